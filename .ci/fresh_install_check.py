"""Fresh-install check: the plugin imports, napari finds it, a dock profiles the real sample.

Run in a new virtual environment after ``pip install -e ".[pyqt]"`` (or ``[pyside]``):
``xvfb-run -a .venv/bin/python .ci/fresh_install_check.py``.
"""

import napari
import qtpy
from npe2 import PluginManager

import napari_phenoscope
from napari_phenoscope._widgets._workers import wait_until
from napari_phenoscope._widgets.docks import add_plugin_dock
from napari_phenoscope.session.state import state_of

print("package", napari_phenoscope.__file__)
print("Qt binding", qtpy.API_NAME, qtpy.QT_VERSION, "napari", napari.__version__)
plugins = PluginManager.instance()
plugins.discover()
print("napari sees the plugin:", "napari-phenoscope" in {m.name for m in plugins.iter_manifests()})
viewer = napari.Viewer(show=False)
viewer.open_sample("napari-phenoscope", "real_field")
_, dock = add_plugin_dock(viewer, "Profile")
assert dock.run(features="classical", device="cpu"), dock.status.text()
wait_until(lambda: not dock.running, 600)
print("cells profiled on the real field:", len(state_of(viewer).session.cells))
viewer.close()

"""Commands of napari's *Layers* menu (npe2 ``menus``): profile the cells of the selected layer.

Each opens the Profile dock through the plugin API (the same instance as *Plugins* and the
demo), points its pickers at the selected layer and runs it, so the result is what the dock
would give; the dock shows progress and errors.
"""

from __future__ import annotations

import napari  # the annotations below are napari's injection keys: resolved at runtime

from napari_phenoscope._widgets.docks import add_plugin_dock


def _profile_dock(viewer: napari.Viewer):
    _, dock = add_plugin_dock(viewer, "Profile")
    dock.inputs.follow_layers()
    return dock


def profile_cells_of_labels_layer(viewer: napari.Viewer) -> bool:
    """*Layers > Measure > Profile these cells*: profile the selected Labels layer's cells
    exactly as they are (another tool's masks, or cells painted by hand)."""
    layer = viewer.layers.selection.active
    dock = _profile_dock(viewer)
    if not isinstance(layer, napari.layers.Labels):
        return dock.fail("Select a Labels layer of cells, then Layers > Measure > Profile.")
    dock.inputs.cells_picker.value = layer
    return dock.run()


def segment_and_profile_field(viewer: napari.Viewer) -> bool:
    """*Layers > Segment > Segment and profile cells*: segment the field of the image layers
    (matched to the five channels by name) and profile its cells."""
    dock = _profile_dock(viewer)
    dock.inputs.cells_picker.value = None
    return dock.run(scope="field")

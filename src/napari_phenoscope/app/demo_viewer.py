"""The last step of ``phenoscope demo``: napari with every dock on the demo's outputs.

The job itself (render, profile, evaluate, summarise) is ``demo.job``, headless; this
module only opens the viewer on its outputs.
"""

from __future__ import annotations

import os

from napari_phenoscope._widgets.docks import add_all_docks
from napari_phenoscope.app.startup import freeze_startup_objects
from napari_phenoscope.demo.job import DemoRunSummary
from napari_phenoscope.demo.story import bi2536_wells
from napari_phenoscope.session.state import state_of


def display_available() -> bool:
    """True when a GUI can open (an X or Wayland display is set)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_demo_viewer(summary: DemoRunSummary) -> None:
    """Open napari with every dock, the demo project and its profiles, on BI-2536's well.

    Blocks until the viewer is closed.
    """
    import napari

    viewer = napari.Viewer(title="Phenoscope demo")
    docks = add_all_docks(viewer)
    freeze_startup_objects()  # this process is Phenoscope's own: see there
    docks.navigator.open(str(summary.project))
    session = state_of(viewer).session
    if session is not None and session.well_metadata is not None:
        plate, well = bi2536_wells(session.well_metadata)[0]
        docks.navigator.plate_combo.setCurrentText(plate)
        docks.navigator.go_to(plate, well, 1)
    docks.profile.load_output(summary.out_dir / "profiles")
    napari.run()

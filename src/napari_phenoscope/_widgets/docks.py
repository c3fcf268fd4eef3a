"""All Phenoscope docks in one viewer: used by the tour, ``phenoscope demo`` and ``view``.

Every dock is created through napari's plugin API (``add_plugin_dock_widget``), the same
call as napari's *Plugins* menu, so the demo, the tour and the menu share one instance of
each dock: opening a dock from *Plugins* afterwards brings the existing one forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from napari_phenoscope.session.model_imports import keep_triton_out_beside_mesa_llvm

PLUGIN = "napari-phenoscope"
#: Dock title -> the widget's display name in napari.yaml (what *Plugins* lists).
PLUGIN_WIDGETS: dict[str, str] = {
    "Plate navigator": "Plate navigator",
    "Profile": "Profile",
    "Inspect": "Inspect",
    "Profile map": "Profile map",
    "Similar": "Similar perturbations",
    "Retrieval": "Retrieval (mAP)",
    "Compare": "Compare",
}
#: Dock title -> area; the right-hand docks share one tabbed area (Profile in front).
DOCK_AREAS: dict[str, str] = {
    "Plate navigator": "left",
    "Profile": "right",
    "Inspect": "right",
    "Profile map": "right",
    "Similar": "right",
    "Retrieval": "right",
    "Compare": "right",
}


@dataclass
class PhenoscopeDocks:
    """The docks of a viewer and their napari dock frames (by title)."""

    navigator: Any
    profile: Any
    inspect: Any
    profile_map: Any
    similar: Any
    retrieval: Any
    compare: Any
    frames: dict[str, Any]

    def show(self, title: str) -> None:
        """Bring a dock's tab to the front."""
        self.frames[title].show()
        self.frames[title].raise_()


def add_plugin_dock(viewer: Any, title: str, tabify: bool = False) -> tuple[Any, Any]:
    """Open one Phenoscope dock as *Plugins* does (or return the one already open).

    Returns
    -------
    tuple
        The napari dock frame and the dock widget.
    """
    return viewer.window.add_plugin_dock_widget(PLUGIN, PLUGIN_WIDGETS[title], tabify=tabify)


def _move_to_left(viewer: Any, frame: Any) -> None:
    from qtpy.QtCore import Qt

    window = viewer.window._qt_window  # napari has no public call to move a dock
    if window.dockWidgetArea(frame) != Qt.DockWidgetArea.LeftDockWidgetArea:
        window.removeDockWidget(frame)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, frame)
        frame.show()


#: Height (px) the Plate navigator asks of the left column: its grid, the grid's legend and
#: the well's metadata in view under napari's layer controls and layer list (which keeps
#: room for ten layers) in a 1180 px window.
NAVIGATOR_HEIGHT = 540


def place_navigator(viewer: Any, frame: Any) -> None:
    """Put the Plate navigator in the left column, under the layer list, with its height."""
    from qtpy.QtCore import Qt

    _move_to_left(viewer, frame)
    viewer.window._qt_window.resizeDocks([frame], [NAVIGATOR_HEIGHT], Qt.Orientation.Vertical)


def add_all_docks(viewer: Any) -> PhenoscopeDocks:
    """Open every dock on ``viewer`` (left: navigator; right: the rest, tabbed)."""
    keep_triton_out_beside_mesa_llvm()
    frames: dict[str, Any] = {}
    widgets: dict[str, Any] = {}
    for title, area in DOCK_AREAS.items():
        tabify = area == "right" and title != "Profile"
        frames[title], widgets[title] = add_plugin_dock(viewer, title, tabify=tabify)
        if area == "left":
            place_navigator(viewer, frames[title])
    docks = PhenoscopeDocks(
        navigator=widgets["Plate navigator"],
        profile=widgets["Profile"],
        inspect=widgets["Inspect"],
        profile_map=widgets["Profile map"],
        similar=widgets["Similar"],
        retrieval=widgets["Retrieval"],
        compare=widgets["Compare"],
        frames=frames,
    )
    docks.show("Profile")
    return docks

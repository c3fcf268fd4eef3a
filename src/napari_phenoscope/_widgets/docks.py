"""All Phenoscope docks in one viewer: used by the tour and by ``phenoscope demo``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from napari_phenoscope._widgets._workers import keep_triton_out_beside_mesa_llvm

#: Dock title -> area; the right-hand docks share one tabbed area (Profile in front).
DOCK_AREAS: dict[str, str] = {
    "Plate navigator": "left",
    "Profile": "right",
    "Inspect": "right",
    "Profile map": "right",
    "Similar": "right",
    "mAP": "right",
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
    map: Any
    compare: Any
    frames: dict[str, Any]

    def show(self, title: str) -> None:
        """Bring a dock's tab to the front."""
        self.frames[title].show()
        self.frames[title].raise_()


def add_all_docks(viewer: Any) -> PhenoscopeDocks:
    """Create every dock on ``viewer`` (left: navigator; right: the rest, tabbed)."""
    keep_triton_out_beside_mesa_llvm()
    from napari_phenoscope._widgets.compare_dock import CompareDock
    from napari_phenoscope._widgets.inspect_dock import InspectDock
    from napari_phenoscope._widgets.map_dock import MapDock
    from napari_phenoscope._widgets.plate_navigator import PlateNavigator
    from napari_phenoscope._widgets.profile_dock import ProfileDock
    from napari_phenoscope._widgets.profile_map import ProfileMap
    from napari_phenoscope._widgets.similar_dock import SimilarDock

    widgets = {
        "Plate navigator": PlateNavigator(viewer),
        "Profile": ProfileDock(viewer),
        "Inspect": InspectDock(viewer),
        "Profile map": ProfileMap(viewer),
        "Similar": SimilarDock(viewer),
        "mAP": MapDock(viewer),
        "Compare": CompareDock(viewer),
    }
    frames = {
        title: viewer.window.add_dock_widget(
            widget,
            name=title,
            area=DOCK_AREAS[title],
            tabify=DOCK_AREAS[title] == "right" and title != "Profile",
        )
        for title, widget in widgets.items()
    }
    docks = PhenoscopeDocks(
        navigator=widgets["Plate navigator"],
        profile=widgets["Profile"],
        inspect=widgets["Inspect"],
        profile_map=widgets["Profile map"],
        similar=widgets["Similar"],
        map=widgets["mAP"],
        compare=widgets["Compare"],
        frames=frames,
    )
    docks.show("Profile")
    return docks

"""The viewer side of the Profile map: the "selected cells" layer and map requests.

``highlight_cells`` draws selected cells of the field on show (as outlines, so that the
five channels stay visible inside them); ``map_events_of`` carries requests of other docks
to the map (the mAP dock rings a query's wells, the Similar dock marks its query, the
query's targets and the match).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from psygnal import Signal

from napari_phenoscope._widgets._cells import field_geometry, place_like_field
from napari_phenoscope._widgets._viewer import field_key
from napari_phenoscope._widgets._workers import LABELS_CELLS
from napari_phenoscope.constants import CENTER_X, CENTER_Y, LABEL, PLATE, SITE, WELL
from napari_phenoscope.session.state import PlateSession

SELECTED_LAYER = "selected cells"
#: Outline width (pixels) of the selected cells: thick enough to find, thin enough to see in.
SELECTED_CONTOUR_PX = 3

WellKeys = list[tuple[str, str]]


@dataclass(frozen=True)
class MapMarks:
    """What the map marks and labels: a ranking's query, its target genes and the match.

    Each is a (label, (plate, well) keys) pair; the map draws the points of those wells
    with a marker per role and writes the label beside them.
    """

    query: tuple[str, WellKeys] | None = None
    targets: list[tuple[str, WellKeys]] = field(default_factory=list)
    match: tuple[str, WellKeys] | None = None
    genes: tuple[str, ...] = ()
    """The query's target genes (those of the ranking or not), by name."""


class MapEvents:
    """Requests other docks make of the map (the mAP dock highlights a query's wells)."""

    highlight_wells = Signal(object)
    """(plate, well) keys whose points to highlight."""
    mark = Signal(object)
    """A :class:`MapMarks`: the query, its targets and the match to mark and label."""


_MAP_EVENTS: weakref.WeakKeyDictionary[Any, MapEvents] = weakref.WeakKeyDictionary()


def map_events_of(viewer: Any) -> MapEvents:
    """The map events of a viewer (created on first use)."""
    if viewer not in _MAP_EVENTS:
        _MAP_EVENTS[viewer] = MapEvents()
    return _MAP_EVENTS[viewer]


def highlight_cells(
    viewer: Any, session: PlateSession, labels: list[int], centers: np.ndarray | None = None
) -> Any:
    """Show cells ``labels`` of the field on show in the "selected cells" layer.

    Their masks are drawn when the field is segmented, rings at their centroids otherwise
    (``centers`` as (y, x) rows, looked up in ``session.cells`` when None). The layer is
    reused (its data replaced): adding and removing napari layers costs a few hundred ms,
    too much for a click. It is left untagged, so that navigation keeps it; the map dock
    redraws it for each field shown. Returns the layer (None if nothing was ever selected).
    """
    key = field_key(session)
    segmented = key in session.labels
    layer = viewer.layers[SELECTED_LAYER] if SELECTED_LAYER in viewer.layers else None
    if layer is not None and type(layer).__name__ != ("Labels" if segmented else "Points"):
        viewer.layers.remove(layer)
        layer = None
    if layer is None and not labels:
        return None
    if segmented:
        cell_labels = session.labels[key][1]
        # each cell keeps its own id, so that touching selected cells keep their own outline
        data = np.where(np.isin(cell_labels, labels), cell_labels, 0)
    else:
        data = cell_centers_in_field(session, key, labels) if centers is None else centers
        data = np.asarray(data, dtype=float).reshape(-1, 2)
    if layer is not None:
        layer.data = data
        place_like_field(viewer, layer)  # the field's pixels, in um where known
    else:
        geometry = field_geometry(viewer)
        active = viewer.layers.selection.active
        if segmented:
            from napari.utils.colormaps import DirectLabelColormap

            colormap = DirectLabelColormap(color_dict={None: "yellow", 0: "transparent"})
            layer = viewer.add_labels(
                data, name=SELECTED_LAYER, opacity=1.0, colormap=colormap, **geometry
            )
            layer.contour = SELECTED_CONTOUR_PX
        else:
            layer = viewer.add_points(
                data,
                name=SELECTED_LAYER,
                size=40,
                face_color="transparent",
                border_color="yellow",
                border_width=0.12,
                **geometry,
            )
        if active is not None and active in viewer.layers:
            viewer.layers.selection.active = active  # keep the user's active layer
    if segmented and labels and LABELS_CELLS in viewer.layers:
        viewer.layers[LABELS_CELLS].selected_label = labels[0]
    top = len(viewer.layers) - 1
    if viewer.layers.index(layer) != top:
        viewer.layers.move(viewer.layers.index(layer), top + 1)
    return layer


def centre_camera_on(viewer: Any, centers: np.ndarray) -> None:
    """Centre the camera on cells given by their (y, x) field pixels (in um where known)."""
    # napari >= 0.9 keeps the camera on the scene (viewer.camera is deprecated)
    camera = getattr(viewer, "scene", viewer).camera
    scale = np.asarray(field_geometry(viewer)["scale"], dtype=float)
    camera.center = tuple(np.asarray(centers, dtype=float).mean(axis=0) * scale)


def cell_centers_in_field(
    session: PlateSession, key: tuple[str, str, int], labels: list[int]
) -> np.ndarray:
    cells = session.cells
    if cells is None or CENTER_X not in cells.columns:
        return np.zeros((0, 2))
    plate, well, site = key
    in_field = (
        (cells[PLATE].to_numpy() == plate)
        & (cells[WELL].to_numpy() == well)
        & (cells[SITE].to_numpy() == site)
        & np.isin(cells[LABEL].to_numpy(), labels)
    )
    return cells.loc[in_field, [CENTER_Y, CENTER_X]].to_numpy(dtype=float)

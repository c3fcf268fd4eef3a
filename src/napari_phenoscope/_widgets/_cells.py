"""The cell layers every dock shares: the field's labels, their scale, click-to-select.

Any dock may show the segmented field ("nuclei" and "cells" Labels layers whose
``features`` hold the cells) and let a click on a cell select it; the selection is shared
through the session's ``selection_changed`` event. ``highlight_cells`` draws selected cells
of the field on show in the "selected cells" layer (as outlines, so that the five channels
stay visible inside them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from napari.utils.colormaps import direct_colormap

from napari_phenoscope._widgets._viewer import tag_field_layer
from napari_phenoscope._widgets._workers import LABELS_CELLS, LABELS_NUCLEI
from napari_phenoscope.constants import PLATE, SITE, WELL
from napari_phenoscope.io.field_layers import METADATA_KEY
from napari_phenoscope.session.compute import labels_features
from napari_phenoscope.session.positions import cell_centers_in_field, field_key
from napari_phenoscope.session.quality import flagged_label_image, flagged_labels
from napari_phenoscope.session.state import PlateSession, state_of

#: Outline width (pixels) of each layer's labels: drawn as contours, not filled, so that the
#: five channels stay visible inside every cell (filled labels muddy them).
LABEL_CONTOURS = {LABELS_NUCLEI: 1, LABELS_CELLS: 2}
#: The layer that outlines the selected cells (the Profile map draws it).
SELECTED_LAYER = "selected cells"
#: Outline width (pixels) of the selected cells: thick enough to find, thin enough to see in.
SELECTED_CONTOUR_PX = 3


def show_field_labels(viewer: Any, session: PlateSession) -> bool:
    """Add or refresh the "nuclei" and "cells" Labels layers of the field on show.

    Returns False (and adds nothing) if that field has not been segmented yet. The labels
    are drawn as contours when the layers are added (``LABEL_CONTOURS``); a width the user
    set later is kept across fields.
    """
    key = field_key(session)
    if key not in session.labels:
        return False
    nuclei, cells = session.labels[key]
    table = _field_cells(session, key)
    columns = [c for names in session.feature_columns.values() for c in names]
    features = labels_features(table, columns) if table is not None else None
    geometry = field_geometry(viewer)
    for name, data in ((LABELS_NUCLEI, nuclei), (LABELS_CELLS, cells)):
        if name in viewer.layers:
            layer = viewer.layers[name]
            layer.data = data
            place_like_field(viewer, layer)
        else:
            layer = viewer.add_labels(data, name=name, opacity=0.8, **geometry)
            layer.contour = LABEL_CONTOURS[name]
        if features is not None:
            layer.features = features
        tag_field_layer(layer, key, name)
    _mark_flagged_cells(viewer, session, key, cells, geometry)
    return True


FLAGGED_CELLS = "QC-flagged cells"


def _mark_flagged_cells(viewer: Any, session: PlateSession, key, cells, geometry) -> None:
    """Outline the field's QC-flagged cells in red, their reasons in the layer's features."""
    flagged = flagged_labels(session, key)
    if not flagged and FLAGGED_CELLS not in viewer.layers:
        return
    data = flagged_label_image(cells, flagged)
    if FLAGGED_CELLS in viewer.layers:
        layer = viewer.layers[FLAGGED_CELLS]
        layer.data = data
        place_like_field(viewer, layer)
    else:
        layer = viewer.add_labels(data, name=FLAGGED_CELLS, opacity=1.0, **geometry)
        layer.contour = 3
    layer.colormap = direct_colormap({None: "red", 0: "transparent"})
    layer.features = pd.DataFrame(
        {"index": pd.array(list(flagged), dtype="int64"), "QC_reason": list(flagged.values())}
    )
    tag_field_layer(layer, key, FLAGGED_CELLS)


def field_image_scale(viewer: Any) -> tuple[float, ...] | None:
    """Scale of the field's channel layers, so that overlays line up with them."""
    layer = _channel_layer(viewer)
    return None if layer is None else tuple(layer.scale)


def field_geometry(viewer: Any) -> dict[str, Any]:
    """``scale`` and ``units`` of the field's channel layers, as layer keyword arguments.

    Every overlay of the field (labels, selection, Inspect's crop) takes both: napari's
    scale bar reads um only while every layer is in um (one layer in pixels and it shows
    no unit at all).
    """
    layer = _channel_layer(viewer)
    if layer is None:
        return {"scale": (1.0, 1.0), "units": "pixel"}
    return {"scale": tuple(layer.scale), "units": tuple(str(u) for u in layer.units)}


def place_like_field(viewer: Any, layer: Any) -> None:
    """Give an existing overlay the channel layers' scale and units (after a plate change)."""
    geometry = field_geometry(viewer)
    if tuple(layer.scale) != tuple(geometry["scale"]):
        layer.scale = geometry["scale"]
    layer.units = geometry["units"]


def _channel_layer(viewer: Any) -> Any:
    for layer in viewer.layers:
        if layer.__class__.__name__ == "Image" and layer.ndim == 2 and not layer.rgb:
            return layer
    return None


def _field_cells(session: PlateSession, key: tuple[str, str, int]):
    if session.cells is None:
        return None
    plate, well, site = key
    cells = session.cells
    return cells[(cells[PLATE] == plate) & (cells[WELL] == well) & (cells[SITE] == site)]


def select_cell_at(viewer: Any, position: tuple[float, ...]) -> tuple[str, str, int, int] | None:
    """Select the cell under a world position of the "cells" layer (None on background)."""
    session = state_of(viewer).session
    if session is None or LABELS_CELLS not in viewer.layers:
        return None
    layer = viewer.layers[LABELS_CELLS]
    value = layer.get_value(position, world=True)
    if value is None or int(value) == 0:
        return None
    plate, well, site = layer.metadata[METADATA_KEY]["field_key"]
    selected = (str(plate), str(well), int(site), int(value))
    layer.selected_label = int(value)
    state_of(viewer).select([selected])
    return selected


def _click_selects_cell(viewer: Any, event: Any):
    """Viewer mouse callback: a click without drag selects the cell under the cursor."""
    if event.type != "mouse_press":
        return
    position = tuple(event.position)
    dragged = False
    yield
    while event.type == "mouse_move":
        dragged = True
        yield
    if not dragged:
        select_cell_at(viewer, position)


def enable_cell_clicks(viewer: Any) -> None:
    """Let a click on a segmented cell select it (once per viewer, whichever dock asks)."""
    if _click_selects_cell not in viewer.mouse_drag_callbacks:
        viewer.mouse_drag_callbacks.append(_click_selects_cell)


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

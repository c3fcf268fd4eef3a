"""The cell layers every dock shares: the field's labels, their scale, click-to-select.

Any dock may show the segmented field ("nuclei" and "cells" Labels layers whose
``features`` hold the cells) and let a click on a cell select it; the selection is shared
through the session's ``selection_changed`` event.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from napari.utils.colormaps import direct_colormap

from napari_phenoscope._reader import METADATA_KEY
from napari_phenoscope._widgets._viewer import field_key, tag_field_layer
from napari_phenoscope._widgets._workers import LABELS_CELLS, LABELS_NUCLEI
from napari_phenoscope.constants import PLATE, SITE, WELL
from napari_phenoscope.session.compute import labels_features
from napari_phenoscope.session.quality import flagged_label_image, flagged_labels
from napari_phenoscope.session.state import PlateSession, state_of

#: Outline width (pixels) of each layer's labels: drawn as contours, not filled, so that the
#: five channels stay visible inside every cell (filled labels muddy them).
LABEL_CONTOURS = {LABELS_NUCLEI: 1, LABELS_CELLS: 2}


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

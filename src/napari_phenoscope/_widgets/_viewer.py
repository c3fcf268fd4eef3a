"""napari-side operations shared by the docks: open a plate, show a field, tag layers.

No Qt here: these functions take a ``napari.Viewer`` and the shared ``PlateSession``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari_phenoscope._reader import METADATA_KEY, field_layer_data
from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.errors import PhenoscopeError
from napari_phenoscope.io import (
    annotate_wells,
    attach_illum_folder,
    index_plate,
    read_well_metadata,
    resolve_pixel_size,
)
from napari_phenoscope.session.state import PlateSession, state_of


def field_key(session: PlateSession, index: int | None = None) -> tuple[str, str, int]:
    """(plate, well, site) of a field of the session."""
    row = session.field_row(index)
    return str(row[PLATE]), str(row[WELL]), int(row[SITE])


def load_well_metadata(source: Path):
    """Well metadata for a plate if its project has plate maps, else None."""
    try:
        return read_well_metadata(source)
    except PhenoscopeError:
        return None


def session_from_layers(viewer: Any) -> PlateSession | None:
    """Rebuild a session from image layers opened by the reader (drag and drop)."""
    for layer in viewer.layers:
        info = layer.metadata.get(METADATA_KEY) if hasattr(layer, "metadata") else None
        if info and info.get("fields") is not None:
            source = Path(info["source"]) if info.get("source") else Path(".")
            session = PlateSession(
                source=source,
                fields=info["fields"],
                well_metadata=annotated_wells(source, info["fields"]),
                current=int(info.get("field", 0)),
            )
            session.extras["pixel_size"] = resolve_pixel_size(info["fields"])
            return session
    return None


def current_session(viewer: Any) -> PlateSession | None:
    """The viewer's session, adopting a plate opened by drag and drop if needed."""
    state = state_of(viewer)
    if state.session is None:
        session = session_from_layers(viewer)
        if session is not None:
            state.session = session
            state.events.session_changed.emit(session)
    return state.session


def annotated_wells(
    source: Path, fields: Any, metadata: str | None = None, negcon: str | None = None
) -> Any:
    """Well annotations of an opened plate (``io.annotate_wells``); None if there are none.

    Without a metadata table or negcon rule, plate maps that do not cover every imaged
    well are still shown (as before) rather than refusing to open the plate.
    """
    try:
        wells = annotate_wells(fields, [source], metadata, negcon)
    except PhenoscopeError:
        if metadata or negcon:
            raise
        return load_well_metadata(source)
    return wells if len(wells.columns) > 2 else None


def open_plate(
    viewer: Any,
    path: str | Path,
    channel_map: str | None = None,
    metadata: str | None = None,
    negcon: str | None = None,
    illum: str | None = None,
    pixel_size: float | None = None,
) -> PlateSession:
    """Index a plate, annotate its wells, and show its first field.

    ``metadata``, ``negcon``, ``illum`` and ``pixel_size`` are the options of
    ``phenoscope profile`` (docs/layouts/); the pixel size (given, or from the images)
    is kept in ``session.extras["pixel_size"]`` for profiling in the viewer.
    """
    fields = index_plate(path, channel_map)
    if illum:
        fields = attach_illum_folder(fields, illum)
    wells = annotated_wells(Path(path), fields, metadata, negcon)
    session = PlateSession(source=Path(path), fields=fields, well_metadata=wells)
    session.extras["pixel_size"] = resolve_pixel_size(fields, pixel_size)
    state = state_of(viewer)
    state.session = session
    show_field(viewer, session, 0)
    state.events.session_changed.emit(session)
    return session


def per_field_layers(viewer: Any) -> list[Any]:
    """Layers that belong to one field (labels, reconstructions, attention)."""
    return [
        layer
        for layer in viewer.layers
        if isinstance(layer.metadata.get(METADATA_KEY), dict)
        and "field_key" in layer.metadata[METADATA_KEY]
    ]


def tag_field_layer(layer: Any, key: tuple[str, str, int], role: str) -> None:
    """Mark a layer as belonging to field ``key`` so that navigation replaces it."""
    layer.metadata[METADATA_KEY] = {"field_key": key, "role": role}


def show_field(viewer: Any, session: PlateSession, index: int) -> None:
    """Show field ``index`` of the session: swap the channel layers' data, drop stale overlays.

    Only the new field is read (lazily); layer order, colormaps and visibility are kept.
    """
    session.current = index
    key = field_key(session, index)
    for layer in per_field_layers(viewer):
        if tuple(layer.metadata[METADATA_KEY]["field_key"]) != key:
            viewer.layers.remove(layer)
    layer_specs = field_layer_data(session.fields, index, source=session.source)
    for data, kwargs, _ in layer_specs:
        name = kwargs["name"]
        if name in viewer.layers:
            layer = viewer.layers[name]
            layer.data = data
            layer.contrast_limits_range = kwargs["contrast_limits"]
            layer.contrast_limits = kwargs["contrast_limits"]
            layer.metadata.update(kwargs["metadata"])
            layer.visible = True
        else:
            viewer.add_image(data, **kwargs)
    shown = {kwargs["name"] for _, kwargs, _ in layer_specs}
    for channel in CHANNELS:
        if channel in viewer.layers and channel not in shown:
            viewer.layers[channel].visible = False  # this field lacks the channel
    state_of(viewer).events.field_changed.emit(index)

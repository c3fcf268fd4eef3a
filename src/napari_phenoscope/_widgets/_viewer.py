"""napari-side operations shared by the docks: open a plate, show a field, tag layers.

No Qt here: these functions take a ``napari.Viewer`` and the shared ``PlateSession``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.io import resolve_pixel_size
from napari_phenoscope.io.field_layers import METADATA_KEY, field_layer_data
from napari_phenoscope.session.opening import OpenedPlate, annotated_wells, read_plate_session
from napari_phenoscope.session.positions import field_key, field_scale
from napari_phenoscope.session.state import PlateSession, state_of

if TYPE_CHECKING:
    import napari


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
            state.session = session  # fires session_changed
            show_scale_bar(viewer)  # the reader drew the layers in um where known
    return state.session


def open_plate(
    viewer: Any,
    path: str | Path,
    channel_map: str | None = None,
    metadata: str | None = None,
    negcon: str | None = None,
    illum: str | None = None,
    pixel_size: float | None = None,
) -> PlateSession:
    """Index a plate, annotate its wells, and show its first field (in the calling thread).

    The options are those of ``read_plate_session``; the Plate navigator reads in a worker
    and shows the result with ``show_opened_plate``.
    """
    opened = read_plate_session(path, channel_map, metadata, negcon, illum, pixel_size)
    return show_opened_plate(viewer, opened)


def show_opened_plate(viewer: Any, opened: OpenedPlate) -> PlateSession:
    """Make a read plate the viewer's session and show its first field."""
    # the session first (it fires session_changed), so that the field's new layers are not
    # taken for a plate dropped on the viewer; row 0 is already current: no field_changed
    state_of(viewer).session = opened.session
    show_field(viewer, opened.session, 0, opened.first_field)
    return opened.session


def per_field_layers(viewer: Any) -> list[Any]:
    """Layers that belong to one field (labels, reconstructions, attention)."""
    return [
        layer
        for layer in viewer.layers
        if isinstance(layer.metadata.get(METADATA_KEY), dict)
        and "field_key" in layer.metadata[METADATA_KEY]
    ]


def tag_field_layer(layer: napari.layers.Layer, key: tuple[str, str, int], role: str) -> None:
    """Mark a layer as belonging to field ``key`` so that navigation replaces it."""
    layer.metadata[METADATA_KEY] = {"field_key": key, "role": role}


def show_scale_bar(viewer: Any) -> None:
    """Turn napari's scale bar on: it reads the layers' units (um, or px when unknown)."""
    scale_bar = scale_bar_of(viewer)
    scale_bar.visible = True
    scale_bar.ticks = False


def scale_bar_of(viewer: Any) -> Any:
    """napari's scale bar overlay (on the canvas since napari 0.9, on the viewer before)."""
    canvas = getattr(viewer, "canvas", None)
    overlays = getattr(canvas, "overlays", None)
    return overlays.scale_bar if overlays is not None else viewer.scale_bar


def show_field(
    viewer: Any, session: PlateSession, index: int, layer_specs: list | None = None
) -> None:
    """Show field ``index`` of the session: swap the channel layers' data, drop stale overlays.

    Only the new field is read (lazily); layer order, colormaps and visibility are kept.
    The layers are drawn in um where the plate's pixel size is known (``field_scale``) and
    napari's scale bar is turned on.
    ``layer_specs`` are the field's layer data when already read (off the GUI thread).
    """
    key = field_key(session, index)
    for layer in per_field_layers(viewer):
        if tuple(layer.metadata[METADATA_KEY]["field_key"]) != key:
            viewer.layers.remove(layer)
    if layer_specs is None:
        layer_specs = field_layer_data(session.fields, index, source=session.source)
    scale, units = field_scale(session)
    for data, kwargs, _ in layer_specs:
        name = kwargs["name"]
        kwargs = {**kwargs, "scale": scale, "units": units}
        if name in viewer.layers:
            layer = viewer.layers[name]
            layer.data = data
            if tuple(layer.scale) != scale:  # another plate, another pixel size
                layer.scale = scale
            layer.units = units
            layer.contrast_limits_range = kwargs["contrast_limits"]
            layer.contrast_limits = kwargs["contrast_limits"]
            layer.metadata.update(kwargs["metadata"])
            if not layer.visible:  # setting it refreshes the layer even when unchanged
                layer.visible = True
        else:
            viewer.add_image(data, **kwargs)
    shown = {kwargs["name"] for _, kwargs, _ in layer_specs}
    for channel in CHANNELS:
        if channel in viewer.layers and channel not in shown:
            viewer.layers[channel].visible = False  # this field lacks the channel
    show_scale_bar(viewer)
    session.current = index  # fires field_changed once the layers show it

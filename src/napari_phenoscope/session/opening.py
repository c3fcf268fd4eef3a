"""Open a plate without a viewer: index its fields, annotate its wells, read its first field.

Everything here runs off the GUI thread (the Plate navigator calls ``read_plate_session``
in a worker): indexing a plate lists thousands of files and reading the first field's
contrast limits reads five planes. Showing the result is the viewer's part (``_widgets``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari_phenoscope.errors import PhenoscopeError
from napari_phenoscope.io import (
    annotate_wells,
    attach_illum_folder,
    index_plate,
    is_illum_corrected,
    read_well_metadata,
    resolve_pixel_size,
)
from napari_phenoscope.io.field_layers import LayerData, field_layer_data
from napari_phenoscope.session.state import PlateSession


def load_well_metadata(source: Path) -> Any:
    """Well metadata for a plate if its project has plate maps, else None."""
    try:
        return read_well_metadata(source)
    except PhenoscopeError:
        return None


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


@dataclass
class OpenedPlate:
    """A plate read for a viewer: its session and the layer data of its first field."""

    session: PlateSession
    first_field: list[LayerData]


def read_plate_session(
    path: str | Path,
    channel_map: str | None = None,
    metadata: str | None = None,
    negcon: str | None = None,
    illum: str | None = None,
    pixel_size: float | None = None,
) -> OpenedPlate:
    """Index a plate, annotate its wells and prepare its first field's layers.

    ``metadata``, ``negcon``, ``illum`` and ``pixel_size`` are the options of
    ``phenoscope profile`` (docs/layouts/); the pixel size (given, or from the images)
    is kept in ``session.extras["pixel_size"]`` for profiling in the viewer.

    Raises
    ------
    PhenoscopeError
        With the file, column or option at fault, as the CLI says it.
    """
    fields = index_plate(path, channel_map)
    if illum:
        fields = attach_illum_folder(fields, illum)
    wells = annotated_wells(Path(path), fields, metadata, negcon)
    session = PlateSession(source=Path(path), fields=fields, well_metadata=wells)
    session.extras["pixel_size"] = resolve_pixel_size(fields, pixel_size)
    return OpenedPlate(session, field_layer_data(fields, 0, source=session.source))


def describe_session(session: PlateSession) -> str:
    """One status line: fields, plates, annotations, illumination, pixel size."""
    parts = [f"{len(session.fields)} fields on {len(session.plates())} plate(s)"]
    if session.well_metadata is None:
        parts.append("no well metadata (profiles normalise to all wells)")
    if len(session.fields) and is_illum_corrected(session.field_row(0).to_dict()):
        parts.append("illumination-corrected")
    pixel_size = session.extras.get("pixel_size")
    parts.append(f"{pixel_size:g} µm/px" if pixel_size else "pixel size unknown")
    return "; ".join(parts)

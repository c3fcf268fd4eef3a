"""Segment every field of a plate: label images per field and one per-cell Parquet table.

This is what ``phenoscope segment PLATE_DIR --out OUT_DIR`` runs. Fields are read one at a
time with the ``io`` readers (a field only holds the channels whose files exist: the
cytoplasm channels that are missing are skipped, a missing DNA channel is an error).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

from napari_phenoscope.constants import WELL, well_name, well_row_col
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.segmentation.field import segment_field
from napari_phenoscope.segmentation.metrics import cell_table

CELLS_TABLE = "cells.parquet"
LABELS_DIR = "labels"


def label_paths(out_dir: str | Path, plate: str, well: str, site: int) -> tuple[Path, Path]:
    """Where the nuclei and cell label images of one field go.

    ``OUT/labels/<plate>/<well>_s<site>_nuclei.tiff`` and ``..._cells.tiff``.
    """
    folder = Path(out_dir) / LABELS_DIR / str(plate)
    stem = f"{well}_s{int(site)}"
    return folder / f"{stem}_nuclei.tiff", folder / f"{stem}_cells.tiff"


def select_wells(fields: pd.DataFrame, wells: Sequence[str] | None, source: Path) -> pd.DataFrame:
    """Keep the fields of the listed wells (``A01``; case and zero padding ignored)."""
    if not wells:
        return fields
    try:
        wanted = {well_name(*well_row_col(well)) for well in wells}
    except ValueError as error:
        raise PlateFormatError(f"--wells: {error}") from error
    selected = fields[fields[WELL].isin(wanted)]
    absent = sorted(wanted - set(selected[WELL]))
    if absent:
        raise PlateFormatError(f"{source} has no images of well(s) {', '.join(absent)}")
    return selected


def segment_plate(
    plate_path: str | Path,
    out_dir: str | Path,
    wells: Sequence[str] | None = None,
    progress: bool = True,
    channel_map: Mapping[int, str] | str | None = None,
    diameter: float | None = None,
    method: str = "classical",
    illum: str | Path | None = None,
    pixel_size: float | None = None,
    diameter_um: float | None = None,
) -> Path:
    """Segment every field of a plate and write label images and a per-cell table.

    Parameters
    ----------
    plate_path
        Anything ``io.index_plate`` reads: project or plate folder, load_data.csv, TIFF.
    out_dir
        Output folder (created): ``labels/<plate>/<well>_s<site>_nuclei.tiff`` and
        ``_cells.tiff`` (int32, zlib-compressed) per field and ``cells.parquet``.
    wells
        Only these wells (``["A01", "B02"]``); all if None.
    progress
        Show a tqdm progress bar over fields (stderr).
    channel_map
        Phenix channel number -> channel name (CPJUMP1 numbering by default).
    diameter
        Typical nucleus diameter in pixels; estimated per field if None.
    method
        ``"classical"`` or ``"cellpose"`` (see ``segment.segment_field``).
    illum
        A folder of CellProfiler illumination functions (``io.attach_illum_folder``).
    pixel_size
        Microns per pixel, overriding the images' metadata (``io.resolve_pixel_size``);
        when known, estimated nucleus diameters stay within 4-30 um.
    diameter_um
        Typical nucleus diameter in microns (needs a known pixel size).

    Returns
    -------
    pathlib.Path
        The per-cell Parquet table: ``Metadata_Plate``, ``Metadata_Well``,
        ``Metadata_Site``, ``Metadata_ObjectNumber``, ``label``, nucleus centre
        (``Location_Center_X`` / ``_Y``, pixels), cell bounding box, nucleus and cell
        areas, ``touches_border``; one row per cell, no rows if no cell was found.

    Raises
    ------
    PlateFormatError
        If the plate cannot be indexed, a listed well has no images, or a field has no
        DNA image (the message names the field or file).
    """
    from tqdm.auto import tqdm

    from napari_phenoscope.io import (
        attach_illum_folder,
        index_plate,
        iter_fields,
        output_folder,
        resolve_pixel_size,
    )

    plate_path = Path(plate_path)
    fields = select_wells(index_plate(plate_path, channel_map=channel_map), wells, plate_path)
    if illum is not None:
        fields = attach_illum_folder(fields, illum)
    pixel_size = resolve_pixel_size(fields, pixel_size)
    if diameter_um is not None:
        if pixel_size is None:
            raise PlateFormatError(
                f"--diameter-um needs the pixel size: {plate_path} has none in its metadata; "
                "give --pixel-size"
            )
        diameter = diameter_um / pixel_size
    out_dir = output_folder(out_dir)
    tables = []
    # each field is segmented with the channels it has (a missing cytoplasm channel is
    # skipped by segment_field), but never without DNA
    walk = tqdm(
        iter_fields(fields, missing="skip"),
        total=len(fields),
        unit="field",
        desc="segmenting",
        disable=not progress,
    )
    for field in walk:
        image = field.read(require=("DNA",))
        plate, well, site = field.key
        result = segment_field(
            image,
            field.channels,
            diameter=diameter,
            method=method,
            plate=plate,
            well=well,
            site=site,
            pixel_size=pixel_size,
        )
        nuclei_path, cells_path = label_paths(out_dir, plate, well, site)
        nuclei_path.parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(nuclei_path, result.nuclei, compression="zlib")
        tifffile.imwrite(cells_path, result.cells, compression="zlib")
        tables.append(result.table)
    if not tables:  # an index with no rows: still a valid (empty) table
        empty = np.zeros((1, 1), np.int32)
        tables.append(cell_table(empty, empty, plate="", well="", site=0))
    cells = pd.concat([t for t in tables if len(t)] or tables[:1], ignore_index=True)
    path = out_dir / CELLS_TABLE
    partial = path.with_name(f".{path.name}.partial")
    out_dir.mkdir(parents=True, exist_ok=True)
    cells.to_parquet(partial, index=False)
    os.replace(partial, path)  # a reader never sees a half-written table
    return path

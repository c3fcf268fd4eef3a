"""Thumbnails of cells for the docks' galleries, read from the plate (no Qt).

``cell_thumbnails`` cuts windows around cells and blends their channels with the viewer's
colours; ``gallery_thumbnails`` (a worker) picks representative cells of each gallery
entry and yields their thumbnails one entry at a time.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CELL_AREA, PLATE, SITE, WELL
from napari_phenoscope.errors import PhenoscopeError, PlateFormatError
from napari_phenoscope.features.composite import channel_composite
from napari_phenoscope.features.crops import cell_centers, crop_origins, cut_windows
from napari_phenoscope.features.scaling import channel_percentiles
from napari_phenoscope.io import read_field
from napari_phenoscope.similarity.rank import representative_cells

CELLS_PER_MATCH = 2
CROP_PX = 96  # field pixels around a cell centre, when the cells' size is not known
#: A thumbnail spans this many cell diameters: the cell and a rim of its neighbours.
DIAMETERS_PER_THUMBNAIL = 1.6
MIN_CROP_PX, MAX_CROP_PX = 24, 160


def thumbnail_size(rows: pd.DataFrame) -> int:
    """Field pixels per thumbnail side, so that one cell fills it: ``DIAMETERS_PER_THUMBNAIL``
    times the median cell's diameter (from ``Cells_AreaShape_Area``), else ``CROP_PX``."""
    if CELL_AREA not in rows.columns:
        return CROP_PX
    areas = pd.to_numeric(rows[CELL_AREA], errors="coerce").to_numpy(dtype=float)
    areas = areas[np.isfinite(areas) & (areas > 0)]
    if not len(areas):
        return CROP_PX
    diameter = 2.0 * np.sqrt(np.median(areas) / np.pi)
    return int(np.clip(round(DIAMETERS_PER_THUMBNAIL * diameter), MIN_CROP_PX, MAX_CROP_PX))


def cell_thumbnails(
    fields: pd.DataFrame, rows: pd.DataFrame, size: int | None = None
) -> list[np.ndarray]:
    """(size, size, 3) RGB thumbnails in [0, 1] of the cells ``rows``, in their order.

    Each field is read once; windows around the centroids are blended with the viewer's
    channel colours, each channel stretched by the percentiles of its whole field. The
    window (``size`` pixels; by default ``thumbnail_size``) shows one cell, not a field.

    Raises
    ------
    PlateFormatError
        If a cell's field is not in ``fields`` or its images cannot be read.
    """
    size = thumbnail_size(rows) if size is None else size
    thumbnails: dict[object, np.ndarray] = {}
    for (plate, well, site), group in rows.groupby([PLATE, WELL, SITE], sort=False):
        index = fields.index[
            (fields[PLATE] == plate) & (fields[WELL] == well) & (fields[SITE] == int(site))
        ]
        if not len(index):
            raise PlateFormatError(f"no images for {plate} {well} site {site}")
        image = read_field(fields.loc[index[0]], missing="zeros")
        limits = channel_percentiles(image)
        windows = cut_windows(image, crop_origins(cell_centers(group), size), size)
        for row_index, window in zip(group.index, windows, strict=True):
            thumbnails[row_index] = channel_composite(window, limits)
    return [thumbnails[row_index] for row_index in rows.index]


def gallery_thumbnails(
    fields: pd.DataFrame,
    cells: pd.DataFrame,
    feature_columns: list[str],
    entries: list[tuple[str, np.ndarray, bool]],
    cancel: threading.Event,
):
    """Worker: yield (column, caption, thumbnails or error text) per gallery entry.

    An entry is (caption, row positions in ``cells``, whether to pick the representative
    cells among those rows); choosing and reading both happen here, off the GUI thread.
    """
    for column, (caption, positions, pick) in enumerate(entries):
        if cancel.is_set():
            return
        rows = cells.iloc[positions]
        try:
            if pick:
                rows = representative_cells(rows, feature_columns, CELLS_PER_MATCH)
            thumbnails = cell_thumbnails(fields, rows) if len(rows) else "no cells profiled"
        except PhenoscopeError as error:
            thumbnails = str(error)
        yield column, caption, thumbnails

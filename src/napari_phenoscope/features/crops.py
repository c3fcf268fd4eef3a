"""Cells to tensors: fixed-size, normalised five-channel crops centred on each nucleus.

The same functions feed training (``training.loops``), embedding (``profiling.pipeline``)
and the reconstruction / attention views (``models.field_inspection``), so a model always sees crops
cut and scaled the same way. How fields are scaled (per field or per plate percentiles) is
``features.scaling``.

Default crop size: 64 px. Rendered demo cells are 25-45 px across (nuclei 10-20 px), so a
64 px window holds the whole cell and a rim of its neighbourhood, and divides into an 8 x 8
grid of 8 px ViT patches. For real 20x images (cells ~60-120 px across at 0.65 um/px),
``extract_crops(..., scale=crop_scale(image_um, encoder_um))`` cuts a window of the physical
size the encoder was trained at and resamples it to the crop size (the profiling pipeline
does so when both pixel sizes are known); or train a model for 128 px crops with
``phenoscope train --crop-size 128``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CENTER_X, CENTER_Y, CHANNELS, LABEL, PLATE, SITE, WELL
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.features.scaling import (
    Normalization,
    limits_per_plate,
    normalize_image,
)
from napari_phenoscope.segmentation.field import segment_field

#: Side of the square crop cut around each nucleus, in pixels (see the module docstring).
DEFAULT_CROP_SIZE = 64


def cell_centers(cells: pd.DataFrame | np.ndarray) -> np.ndarray:
    """(N, 2) (y, x) centres from a cell table (``Location_Center_Y/X``) or an array."""
    if isinstance(cells, pd.DataFrame):
        missing = [column for column in (CENTER_Y, CENTER_X) if column not in cells.columns]
        if missing:
            raise PlateFormatError(f"cell table lacks column(s) {missing}")
        return cells[[CENTER_Y, CENTER_X]].to_numpy(dtype=np.float64)
    centers = np.asarray(cells, dtype=np.float64)
    if centers.ndim != 2 or centers.shape[1] != 2:
        raise ValueError(f"centers must be (N, 2) (y, x), got shape {centers.shape}")
    return centers


def crop_origins(centers: np.ndarray, size: int = DEFAULT_CROP_SIZE) -> np.ndarray:
    """(N, 2) integer (y, x) top-left corners of the ``size`` windows centred on ``centers``.

    Examples
    --------
    >>> crop_origins(np.array([[10.4, 20.6]]), size=8).tolist()
    [[6, 17]]
    """
    return np.round(np.asarray(centers, dtype=np.float64)).astype(np.int64) - size // 2


def cut_windows(stack: np.ndarray, origins: np.ndarray, size: int) -> np.ndarray:
    """Cut (N, C, size, size) windows out of a (C, Y, X) stack, zero outside the stack.

    Parameters
    ----------
    stack
        (C, Y, X) array.
    origins
        (N, 2) integer (y, x) top-left corners, possibly outside the stack.
    size
        Side of the windows.
    """
    channels, height, width = stack.shape
    windows = np.zeros((len(origins), channels, size, size), dtype=stack.dtype)
    for index, (y0, x0) in enumerate(np.asarray(origins, dtype=np.int64)):
        ys, xs = max(y0, 0), max(x0, 0)
        ye, xe = min(y0 + size, height), min(x0 + size, width)
        if ye <= ys or xe <= xs:
            continue  # entirely outside the field: stays zero
        windows[index, :, ys - y0 : ye - y0, xs - x0 : xe - x0] = stack[:, ys:ye, xs:xe]
    return windows


def extract_crops(
    image: np.ndarray,
    cells: pd.DataFrame | np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    size: int = DEFAULT_CROP_SIZE,
    mask_neighbours: bool = False,
    cell_labels: np.ndarray | None = None,
    normalization: Normalization = "field",
    scale: float = 1.0,
) -> np.ndarray:
    """Cut normalised single-cell crops centred on each nucleus.

    Parameters
    ----------
    image
        (5, Y, X) field in ``CHANNELS`` order (DNA, ER, RNA, AGP, Mito).
    cells
        A cell table with ``Location_Center_Y/X`` (and ``label``), or (N, 2) (y, x) centres.
    labels
        Label id of each cell in ``cell_labels``; the table's ``label`` column by default.
    size
        Side of the square crops (pixels); windows leaving the field are zero-padded.
    mask_neighbours
        Zero the pixels of the crop that belong to other cells (needs ``cell_labels``).
    cell_labels
        (Y, X) cell label image, for ``mask_neighbours``.
    normalization
        ``"field"`` (default), ``"none"`` or (5, 2) percentile limits: see ``normalize_image``.
    scale
        Crop pixels per image pixel: the image's pixel size over the encoder's
        (``crop_scale``). A window of ``size / scale`` image pixels is cut and resampled
        (linear, anti-aliased when shrinking) to ``size``, so the crop covers the physical
        area the encoder was trained on.

    Returns
    -------
    numpy.ndarray
        (N, 5, size, size) float32, in [0, 1] unless ``normalization="none"``.

    Raises
    ------
    PlateFormatError
        If the image does not have five channels or the table lacks its centre columns.

    Examples
    --------
    >>> field = np.ones((5, 100, 100), dtype=np.uint16)
    >>> extract_crops(field, np.array([[50.0, 50.0], [0.0, 0.0]]), size=16).shape
    (2, 5, 16, 16)
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[0] != len(CHANNELS):
        raise PlateFormatError(
            f"expected a ({len(CHANNELS)}, Y, X) image with channels {list(CHANNELS)}, "
            f"got shape {image.shape}"
        )
    centers = cell_centers(cells)
    if len(centers) == 0:
        return np.zeros((0, len(CHANNELS), size, size), dtype=np.float32)
    if not scale > 0:
        raise ValueError(f"crop scale must be positive, not {scale}")
    window = size if scale == 1.0 else max(1, int(round(size / scale)))
    normalized = normalize_image(image, normalization)
    origins = crop_origins(centers, window)
    crops = cut_windows(normalized, origins, window)
    if mask_neighbours:
        if cell_labels is None:
            raise ValueError("mask_neighbours needs the cell label image (cell_labels)")
        if labels is None:
            if not isinstance(cells, pd.DataFrame) or LABEL not in cells.columns:
                raise PlateFormatError(f"mask_neighbours needs a '{LABEL}' column or labels")
            labels = cells[LABEL].to_numpy()
        label_windows = cut_windows(np.asarray(cell_labels)[None], origins, window)[:, 0]
        own = np.asarray(labels).reshape(-1, 1, 1)
        neighbour = (label_windows != 0) & (label_windows != own)
        crops[np.broadcast_to(neighbour[:, None], crops.shape)] = 0.0
    if window != size:
        crops = _resample(crops, size)
    return crops.astype(np.float32, copy=False)


def crop_scale(image_pixel_size: float | None, encoder_pixel_size: float | None) -> float:
    """Crop pixels per image pixel: 1 unless both physical pixel sizes (um) are known.

    Examples
    --------
    >>> crop_scale(0.65, 1.3)   # the encoder saw coarser pixels: cut twice the window
    0.5
    """
    if not image_pixel_size or not encoder_pixel_size:
        return 1.0
    return float(image_pixel_size) / float(encoder_pixel_size)


def _resample(crops: np.ndarray, size: int) -> np.ndarray:
    from skimage.transform import resize

    shrinking = crops.shape[-1] > size
    return resize(
        crops,
        (*crops.shape[:2], size, size),
        order=1,
        anti_aliasing=shrinking,
        preserve_range=True,
    )


@dataclass
class CropBatch:
    """A batch of crops with one row of metadata per crop (plate, well, site, label, centre)."""

    crops: np.ndarray
    table: pd.DataFrame


def iter_plate_crops(
    plate_dirs: Sequence[str | Path],
    size: int = DEFAULT_CROP_SIZE,
    batch_size: int = 256,
    normalization: Literal["field", "plate", "none"] = "field",
    mask_neighbours: bool = False,
    channel_map: str | None = None,
    missing: Literal["error", "zeros"] = "error",
    max_fields: int | None = None,
    segmenter: Callable[[np.ndarray], object] | None = None,
) -> Iterator[CropBatch]:
    """Stream crops from plates field by field: read, segment, crop, batch.

    Only one field (and at most one batch of crops) is in memory at a time.

    Parameters
    ----------
    plate_dirs
        Plate or project folders (anything ``io.index_plate`` reads).
    size, mask_neighbours
        As for ``extract_crops``.
    normalization
        ``"field"``, ``"none"``, or ``"plate"``: each plate's ``plate_limits``.
    batch_size
        Crops per yielded batch (the last one may be smaller).
    channel_map, missing
        As for ``io.index_plate`` / ``io.read_field``.
    max_fields
        Stop after this many fields (over all plates).
    segmenter
        ``image -> result`` with ``.cells`` and ``.table`` (``segment.segment_field`` by
        default).

    Yields
    ------
    CropBatch

    Raises
    ------
    PlateFormatError
        If a plate folder holds no fields (naming it).
    """
    from napari_phenoscope.io import index_plate, iter_fields

    if segmenter is None:
        segmenter = segment_field
    pending_crops: list[np.ndarray] = []
    pending_tables: list[pd.DataFrame] = []
    n_pending = 0
    n_fields = 0
    for plate_dir in plate_dirs:
        fields = index_plate(plate_dir, channel_map)
        if fields.empty:
            raise PlateFormatError(f"no image fields found in {plate_dir}")
        by_plate = limits_per_plate(fields, missing=missing) if normalization == "plate" else {}
        for field in iter_fields(fields, missing=missing):
            if max_fields is not None and n_fields >= max_fields:
                break
            n_fields += 1
            image = field.read()
            scaling = by_plate.get(field.key[0], normalization)
            segmentation = segmenter(image)
            table = segmentation.table.reset_index(drop=True).copy()
            for column in (PLATE, WELL, SITE):
                table[column] = field.row[column]
            crops = extract_crops(
                image,
                table,
                size=size,
                mask_neighbours=mask_neighbours,
                cell_labels=segmentation.cells,
                normalization=scaling,
            )
            pending_crops.append(crops)
            pending_tables.append(table)
            n_pending += len(crops)
            while n_pending >= batch_size:
                batch, pending_crops, pending_tables = _take(
                    pending_crops, pending_tables, batch_size
                )
                n_pending -= batch_size
                yield batch
    if n_pending:
        batch, _, _ = _take(pending_crops, pending_tables, n_pending)
        yield batch


def _take(
    crops: list[np.ndarray], tables: list[pd.DataFrame], count: int
) -> tuple[CropBatch, list[np.ndarray], list[pd.DataFrame]]:
    """Split the first ``count`` crops (and rows) off the pending lists."""
    all_crops = np.concatenate(crops) if len(crops) > 1 else crops[0]
    all_rows = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    batch = CropBatch(all_crops[:count], all_rows.iloc[:count].reset_index(drop=True))
    rest_crops = [all_crops[count:]] if count < len(all_crops) else []
    rest_rows = [all_rows.iloc[count:].reset_index(drop=True)] if count < len(all_rows) else []
    return batch, rest_crops, rest_rows

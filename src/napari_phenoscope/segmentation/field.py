"""One field -> nuclei, cells and the per-cell table, by the classical or the cellpose method.

The choice of method lives here, above both ``watershed`` (the classical method) and
``cellpose`` (which reuses the watershed module's intensity normalization and cell growing),
so neither imports the other back. ``cellpose`` is imported only when asked for: it is an
optional dependency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.errors import PhenoscopeError
from napari_phenoscope.segmentation.cellpose import _segment_cellpose
from napari_phenoscope.segmentation.metrics import cell_table
from napari_phenoscope.segmentation.watershed import (
    bounded_nucleus_diameter,
    normalize_intensity,
    segment_cells,
    segment_nuclei,
)

CYTOPLASM_CHANNELS: tuple[str, ...] = ("AGP", "RNA", "ER")
METHODS: tuple[str, ...] = ("classical", "cellpose")


@dataclass(frozen=True)
class SegmentationResult:
    """Label images of one field and their per-cell table.

    Attributes
    ----------
    nuclei, cells
        (Y, X) int32 label images; cell ``k`` contains nucleus ``k``; 0 is background.
    table
        One row per cell (``cell_table``), keyed by ``label``.
    """

    nuclei: np.ndarray
    cells: np.ndarray
    table: pd.DataFrame


def _channel_planes(
    image: np.ndarray | Mapping[str, np.ndarray], channels: Sequence[str]
) -> dict[str, np.ndarray]:
    """Name the planes of a (C, Y, X) array (or pass a name -> plane mapping through)."""
    if isinstance(image, Mapping):
        return {str(name): np.asarray(plane) for name, plane in image.items()}
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[0] != len(channels):
        raise PhenoscopeError(
            f"field of shape {image.shape} does not match channels {list(channels)} "
            "(expected (C, Y, X))"
        )
    return dict(zip(channels, image, strict=True))


def cytoplasm_image(
    planes: Mapping[str, np.ndarray], channels: Sequence[str] = CYTOPLASM_CHANNELS
) -> np.ndarray | None:
    """Mean of the normalized cytoplasm channels that exist and are not constant.

    A channel absent from ``planes`` or all one value (a missing file read as zeros) is
    skipped; None if no channel is left (cells then fall back to expanded nuclei).
    """
    normalized = [normalize_intensity(planes[name]) for name in channels if name in planes]
    present = [plane for plane in normalized if plane is not None]
    if not present:
        return None
    return np.mean(present, axis=0, dtype=np.float32) if len(present) > 1 else present[0]


def segment_field(
    image: np.ndarray | Mapping[str, np.ndarray],
    channels: Sequence[str] = CHANNELS,
    *,
    cytoplasm_channels: Sequence[str] = CYTOPLASM_CHANNELS,
    nucleus_channel: str = "DNA",
    diameter: float | None = None,
    max_distance: float = 2.0,
    method: str = "classical",
    cellpose_weights: Mapping[str, str | Path] | None = None,
    plate: str | None = None,
    well: str | None = None,
    site: int | None = None,
    pixel_size: float | None = None,
) -> SegmentationResult:
    """Segment the nuclei and cells of one field and tabulate the cells.

    Parameters
    ----------
    image
        (C, Y, X) field whose planes are named by ``channels``, or a mapping channel name
        -> (Y, X) plane (only the channels present).
    channels
        Names of the planes of an array ``image``.
    cytoplasm_channels
        Channels averaged (after normalization) to grow cells; those missing or constant
        are skipped, and with none left cells are the nuclei expanded by half a diameter.
    nucleus_channel
        Channel of the nuclear stain.
    diameter
        Typical nucleus diameter in pixels; estimated from the image if None.
    max_distance
        Cells reach at most ``max_distance`` nucleus diameters from their nucleus.
    method
        ``"classical"`` (scikit-image) or ``"cellpose"`` (needs the cellpose package and
        local weights, see ``cellpose_weights``; nothing is ever downloaded).
    cellpose_weights
        ``{"nuclei": path, "cells": path}`` of local cellpose model files; by default
        looked up in ``$CELLPOSE_LOCAL_MODELS_PATH`` or ``~/.cellpose/models`` as
        ``nuclei`` and ``cyto3``.
    plate, well, site
        Written into the table's metadata columns when given.
    pixel_size
        Microns per pixel, when known: an estimated nucleus diameter outside 4-30 um
        (``NUCLEUS_DIAMETER_UM``) is clipped into it.

    Returns
    -------
    SegmentationResult
        Nuclei and cell labels and the per-cell table (no rows for an empty field).

    Raises
    ------
    PhenoscopeError
        If the nucleus channel is missing, the array does not match ``channels``, or
        cellpose (or its weights) is not available for ``method="cellpose"``.

    Examples
    --------
    >>> field = np.zeros((5, 64, 64), np.uint16)
    >>> field[0, 20:32, 20:32] = 1000
    >>> result = segment_field(field)
    >>> len(result.table), int(result.cells.max())
    (1, 1)
    """
    if method not in METHODS:
        raise PhenoscopeError(f"unknown segmentation method {method!r}; use one of {METHODS}")
    planes = _channel_planes(image, channels)
    if nucleus_channel not in planes:
        raise PhenoscopeError(
            f"the field has no {nucleus_channel} channel (channels: {sorted(planes)})"
        )
    cytoplasm = cytoplasm_image(planes, cytoplasm_channels)
    if diameter is None and pixel_size:
        diameter = bounded_nucleus_diameter(planes[nucleus_channel], pixel_size)
    if method == "cellpose":
        nuclei, cells = _segment_cellpose(
            planes[nucleus_channel], cytoplasm, diameter, cellpose_weights
        )
    else:
        nuclei = segment_nuclei(planes[nucleus_channel], diameter=diameter)
        cells = segment_cells(cytoplasm, nuclei, diameter=diameter, max_distance=max_distance)
    table = cell_table(nuclei, cells, plate=plate, well=well, site=site)
    return SegmentationResult(nuclei=nuclei, cells=cells, table=table)

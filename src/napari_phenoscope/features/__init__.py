"""Cells -> features: normalized five-channel crops for the ViT, classical measurements.

``crops`` cuts and normalizes per-cell crops (and iterates a plate's crops for training);
``classical`` measures CellProfiler's shape, intensity, correlation, texture (``texture``),
granularity (``granularity``) and radial distribution (``radial``) features, the baseline
the ViT is compared with.
"""

from napari_phenoscope.features.classical import classical_feature_names, measure_cells
from napari_phenoscope.features.crops import (
    DEFAULT_CROP_SIZE,
    CropBatch,
    extract_crops,
    iter_plate_crops,
)
from napari_phenoscope.features.scaling import normalize_image

__all__ = [
    "DEFAULT_CROP_SIZE",
    "CropBatch",
    "classical_feature_names",
    "extract_crops",
    "iter_plate_crops",
    "measure_cells",
    "normalize_image",
]

"""Nuclei and cells of a Cell Painting field -> label images and a per-cell table.

``segment_field`` (``field``) picks the method: ``classical`` (scikit-image, the default)
or ``cellpose`` (optional, local weights only); ``metrics`` tabulates the cells and matches
them to ground truth; ``batch`` segments a whole plate to TIFFs and a Parquet table.
"""

from napari_phenoscope.constants import LABEL
from napari_phenoscope.segmentation.batch import label_paths, segment_plate
from napari_phenoscope.segmentation.classical import (
    estimate_diameter,
    normalize_intensity,
    segment_cells,
    segment_nuclei,
)
from napari_phenoscope.segmentation.field import (
    CYTOPLASM_CHANNELS,
    METHODS,
    SegmentationResult,
    cytoplasm_image,
    segment_field,
)
from napari_phenoscope.segmentation.metrics import (
    BBOX_MAX_X,
    BBOX_MAX_Y,
    BBOX_MIN_X,
    BBOX_MIN_Y,
    TOUCHES_BORDER,
    MatchResult,
    cell_table,
    match_labels,
)

__all__ = [
    "BBOX_MAX_X",
    "BBOX_MAX_Y",
    "BBOX_MIN_X",
    "BBOX_MIN_Y",
    "CYTOPLASM_CHANNELS",
    "LABEL",
    "METHODS",
    "TOUCHES_BORDER",
    "MatchResult",
    "SegmentationResult",
    "cell_table",
    "cytoplasm_image",
    "estimate_diameter",
    "label_paths",
    "match_labels",
    "normalize_intensity",
    "segment_cells",
    "segment_field",
    "segment_nuclei",
    "segment_plate",
]

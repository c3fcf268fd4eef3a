"""Nuclei and cells of a Cell Painting field -> label images and a per-cell table.

``segment_field`` (``field``) picks the method: ``classical`` (``watershed``: scikit-image,
the default) or ``cellpose`` (optional, local weights only); ``metrics`` tabulates the cells
and matches them to ground truth; ``batch`` segments a whole plate to TIFFs and a Parquet table;
``given`` turns label images made elsewhere (cellpose, CellProfiler, by hand) into the same
result.
"""

from napari_phenoscope.constants import LABEL
from napari_phenoscope.segmentation.batch import label_paths, segment_plate
from napari_phenoscope.segmentation.field import (
    CYTOPLASM_CHANNELS,
    METHODS,
    SegmentationResult,
    cytoplasm_image,
    segment_field,
)
from napari_phenoscope.segmentation.given import (
    MISSING_LABELS,
    fields_with_labels,
    read_field_labels,
    segmentation_from_labels,
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
from napari_phenoscope.segmentation.watershed import (
    estimate_diameter,
    normalize_intensity,
    segment_cells,
    segment_nuclei,
)

__all__ = [
    "BBOX_MAX_X",
    "BBOX_MAX_Y",
    "BBOX_MIN_X",
    "BBOX_MIN_Y",
    "CYTOPLASM_CHANNELS",
    "LABEL",
    "METHODS",
    "MISSING_LABELS",
    "TOUCHES_BORDER",
    "MatchResult",
    "SegmentationResult",
    "cell_table",
    "cytoplasm_image",
    "estimate_diameter",
    "fields_with_labels",
    "label_paths",
    "match_labels",
    "normalize_intensity",
    "read_field_labels",
    "segment_cells",
    "segment_field",
    "segment_nuclei",
    "segment_plate",
    "segmentation_from_labels",
]

"""Old import path of ``napari_phenoscope.segmentation`` (nuclei and cells of a field).

Kept for the documented ``from napari_phenoscope.segment import segment_field,
match_labels``; new code imports ``napari_phenoscope.segmentation``.
"""

from napari_phenoscope.segmentation import (
    BBOX_MAX_X,
    BBOX_MAX_Y,
    BBOX_MIN_X,
    BBOX_MIN_Y,
    CYTOPLASM_CHANNELS,
    LABEL,
    METHODS,
    TOUCHES_BORDER,
    MatchResult,
    SegmentationResult,
    cell_table,
    cytoplasm_image,
    estimate_diameter,
    label_paths,
    match_labels,
    normalize_intensity,
    segment_cells,
    segment_field,
    segment_nuclei,
    segment_plate,
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
    "cell_table",
    "cytoplasm_image",
    "estimate_diameter",
    "label_paths",
    "match_labels",
    "MatchResult",
    "normalize_intensity",
    "segment_cells",
    "segment_field",
    "segment_nuclei",
    "segment_plate",
    "SegmentationResult",
]

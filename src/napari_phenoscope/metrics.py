"""Old import path of ``napari_phenoscope.evaluation.map`` (AP / mAP, copairs semantics).

Kept for the documented ``from napari_phenoscope.metrics import average_precision``;
new code imports ``napari_phenoscope.evaluation``.
"""

from napari_phenoscope.evaluation.map import (
    AP,
    BELOW_CORRECTED_P,
    BELOW_P,
    CORRECTED_P,
    MAP,
    N_POS,
    N_TOTAL,
    NORMALIZED_AP,
    NORMALIZED_MAP,
    P_VALUE,
    RANK,
    SIMILARITY,
    average_precision,
    average_precision_multilabel,
    fraction_retrieved,
    mean_average_precision,
    rank_by_similarity,
)

__all__ = [
    "AP",
    "BELOW_CORRECTED_P",
    "BELOW_P",
    "CORRECTED_P",
    "MAP",
    "N_POS",
    "N_TOTAL",
    "NORMALIZED_AP",
    "NORMALIZED_MAP",
    "P_VALUE",
    "RANK",
    "SIMILARITY",
    "average_precision",
    "average_precision_multilabel",
    "fraction_retrieved",
    "mean_average_precision",
    "rank_by_similarity",
]

"""Old import path of ``napari_phenoscope.profiling.profiles`` (aggregate, normalize, ...).

Kept for the documented ``napari_phenoscope.profiles``; new code imports
``napari_phenoscope.profiling``.
"""

from napari_phenoscope.profiling.profiles import (
    FEATURE_SELECT_OPERATIONS,
    MAD_SCALE,
    aggregate,
    correlation_threshold_columns,
    feature_select,
    na_columns,
    normalize,
    spherize,
    variance_threshold_columns,
)

__all__ = [
    "FEATURE_SELECT_OPERATIONS",
    "MAD_SCALE",
    "aggregate",
    "correlation_threshold_columns",
    "feature_select",
    "na_columns",
    "normalize",
    "spherize",
    "variance_threshold_columns",
]

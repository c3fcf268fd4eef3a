"""Old import path of ``napari_phenoscope.profiling.pipeline`` (plates -> profiles).

Kept for the documented ``napari_phenoscope.pipeline.profile_plates``; new code imports
``napari_phenoscope.profiling``.
"""

from napari_phenoscope.profiling.pipeline import (
    CELL_COUNT,
    FEATURE_SETS,
    LABEL,
    VIT_PREFIX,
    ProfileOutputs,
    field_cache_path,
    index_plates,
    measure_field,
    model_signature,
    parse_feature_sets,
    profile_plates,
    resolve_device,
    vit_feature_names,
    well_profiles,
    write_parquet_atomic,
)

__all__ = [
    "CELL_COUNT",
    "FEATURE_SETS",
    "LABEL",
    "VIT_PREFIX",
    "field_cache_path",
    "index_plates",
    "measure_field",
    "model_signature",
    "parse_feature_sets",
    "profile_plates",
    "ProfileOutputs",
    "resolve_device",
    "vit_feature_names",
    "well_profiles",
    "write_parquet_atomic",
]

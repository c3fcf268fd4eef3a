"""Plates -> profiles: the headless pipeline, aggregation and normalization, similarity, maps.

``pipeline`` runs read -> segment -> embed / measure -> aggregate over plates, resumably
(the CLI, the demo job and the docks use it), ``outputs`` writes and reads its files,
``wells`` turns cells into well profiles; ``profiles`` aggregates, normalizes to
negative controls, selects features and spherizes (pycytominer's operations);
``similarity`` ranks perturbations and cells by cosine similarity to a query;
``embedding_map`` computes the UMAP of profiles and its colours; ``explain``,
``explain_cells``, ``comparison`` and ``comparison_figure`` say why a query matches one
perturbation (the Compare dock and ``phenoscope explain``).
"""

from napari_phenoscope.profiling.outputs import ProfileOutputs, read_pipeline_output
from napari_phenoscope.profiling.pipeline import profile_plates
from napari_phenoscope.profiling.profiles import aggregate, feature_select, normalize, spherize
from napari_phenoscope.profiling.wells import well_profiles

__all__ = [
    "ProfileOutputs",
    "aggregate",
    "feature_select",
    "normalize",
    "profile_plates",
    "read_pipeline_output",
    "spherize",
    "well_profiles",
]

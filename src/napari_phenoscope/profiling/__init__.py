"""Plates -> profiles: the headless pipeline, its files, well profiles and their processing.

``pipeline`` runs read -> segment -> embed / measure -> aggregate over plates, resumably
(the CLI, the demo job and the docks use it), ``execute`` says where its fields run
(in-process, local or existing Dask cluster), ``quality`` runs QC inside it, ``outputs``
writes and reads its files, ``wells`` turns cells into well profiles; ``profiles``
aggregates, normalises to negative controls, selects features and spherises (pycytominer's
operations). What is done with the profiles lives above: ``similarity`` (rankings and why a
match) and, below, ``profile_map`` (the UMAP) and ``evaluation`` (AP / mAP).
"""

from napari_phenoscope.profiling.outputs import (
    PipelineOutput,
    ProfileOutputs,
    read_pipeline_output,
)
from napari_phenoscope.profiling.pipeline import profile_plates
from napari_phenoscope.profiling.processing import (
    aggregate,
    feature_select,
    normalise,
    normalize,
    spherise,
    spherize,
)
from napari_phenoscope.profiling.wells import well_profiles

__all__ = [
    "PipelineOutput",
    "ProfileOutputs",
    "aggregate",
    "feature_select",
    "normalise",
    "normalize",
    "profile_plates",
    "read_pipeline_output",
    "spherise",
    "spherize",
    "well_profiles",
]

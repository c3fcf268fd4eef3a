"""Query -> ranking -> why a match: which perturbations look alike, and why.

``rank`` ranks every perturbation by the cosine similarity of its consensus profile to a
query (a cell, a well or a perturbation; the Similar perturbations dock); ``attribution``
splits a similarity into exact feature and feature-group shares, ``feature_words`` says
those groups in a biologist's words; ``explain`` says why and how surely one match holds
(rank, null, replicates, the default contrast), ``explain_cells`` shows it in the cells
(representative cells, ViT channel occlusion); ``comparison`` gathers all of it for one
query, match and contrast, ``comparison_figure`` draws and writes it (the Compare dock and
``phenoscope explain``).

Named ``similarity``, not ``retrieval``: in this package "retrieval" is what
``evaluation`` scores (AP / mAP of replicate and sister retrieval, docs/retrieval.md);
this package ranks and explains one query's neighbours.
"""

from napari_phenoscope.similarity.comparison import Comparison, compare
from napari_phenoscope.similarity.explain import MatchExplanation, explain_match
from napari_phenoscope.similarity.rank import (
    Query,
    ReferenceProfiles,
    cell_query,
    perturbation_query,
    rank_perturbations,
    reference_profiles,
    well_query,
)

__all__ = [
    "Comparison",
    "MatchExplanation",
    "Query",
    "ReferenceProfiles",
    "cell_query",
    "compare",
    "explain_match",
    "perturbation_query",
    "rank_perturbations",
    "reference_profiles",
    "well_query",
]

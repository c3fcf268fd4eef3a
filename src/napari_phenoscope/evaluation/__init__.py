"""Retrieval evaluation with copairs semantics: pairs, ranks, nulls, then AP / mAP.

``pairs`` builds positive pairs and negative sets from metadata rules, ``ranking`` ranks
them by cosine similarity, ``nulls`` gives permutation p-values and the BH correction,
``precision`` puts them together (``average_precision``, ``mean_average_precision``), and
``tasks`` runs the CPJUMP1 retrieval presets on a well-level table.
"""

from napari_phenoscope.evaluation.precision import (
    average_precision,
    average_precision_multilabel,
    fraction_retrieved,
    mean_average_precision,
    rank_by_similarity,
)
from napari_phenoscope.evaluation.tasks import TASKS, TaskResult, evaluate, evaluate_file

__all__ = [
    "TASKS",
    "TaskResult",
    "average_precision",
    "average_precision_multilabel",
    "evaluate",
    "evaluate_file",
    "fraction_retrieved",
    "mean_average_precision",
    "rank_by_similarity",
]

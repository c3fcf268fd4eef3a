"""Old import path of ``napari_phenoscope.evaluation.tasks`` (the CPJUMP1 retrieval tasks).

Kept for the documented ``napari_phenoscope.tasks.evaluate``; new code imports
``napari_phenoscope.evaluation``.
"""

from napari_phenoscope.evaluation.tasks import (
    MATCHED_LABEL,
    REFERENCE,
    TASKS,
    TaskResult,
    evaluate,
    evaluate_file,
    format_summary,
    pairwise,
)

__all__ = [
    "MATCHED_LABEL",
    "REFERENCE",
    "TASKS",
    "evaluate",
    "evaluate_file",
    "format_summary",
    "pairwise",
    "TaskResult",
]

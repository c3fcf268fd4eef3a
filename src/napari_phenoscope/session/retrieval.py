"""What the Retrieval dock computes: a task's mAP per feature set, and how to read it.

The dock runs ``evaluate_each`` in its child process (copairs' semantics, through
``evaluation.tasks`` and ``evaluation.rules``) and shows the per-query table
(``query_columns``), the wells of a query on the Profile map (``query_wells``), the
summary per stratum (``summary_html``) and the fraction retrieved per feature set
(``fraction_retrieved_table``). No Qt here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pandas as pd

from napari_phenoscope.constants import BROAD_SAMPLE, GENE, MODALITY, PERT_INAME, PLATE, WELL
from napari_phenoscope.evaluation.precision import (
    AP,
    BELOW_CORRECTED_P,
    CORRECTED_P,
    MAP,
    P_VALUE,
)
from napari_phenoscope.evaluation.rules import STRATUM, PairRules, evaluate_profiles
from napari_phenoscope.evaluation.tasks import MATCHED_LABEL, REFERENCE, TaskResult, evaluate
from napari_phenoscope.io.profiles import metadata_columns
from napari_phenoscope.session.interruptible import InterruptibleProcess

#: Corrected p below which a group counts as retrieved.
THRESHOLD = 0.05
NULL_SIZE = 10_000  # as ``phenoscope evaluate``: the same p-values in the dock and the CLI
SEED = 0
#: Per-query columns shown (those present), in this order: what people read first.
QUERY_COLUMNS = (
    PERT_INAME,
    GENE,
    MATCHED_LABEL,
    AP,
    P_VALUE,
    CORRECTED_P,
    BELOW_CORRECTED_P,
    MODALITY,
    REFERENCE,
    MAP,
    BROAD_SAMPLE,
)


def group_columns(result: TaskResult) -> list[str]:
    """The metadata columns that group a pair-rules result; none for a CPJUMP1 preset."""
    return metadata_columns(result.per_group) if STRATUM in result.summary else []


def query_columns(result: TaskResult) -> list[str]:
    """The per-query columns to show, in order: a pair rule's group columns, then
    ``QUERY_COLUMNS`` (those the result has)."""
    columns = dict.fromkeys([*group_columns(result), *QUERY_COLUMNS])
    return [c for c in columns if c in result.per_query.columns]


def evaluate_each(
    tables: dict[str, pd.DataFrame],
    task: str | PairRules,
    cancel: threading.Event | None = None,
    process: InterruptibleProcess | None = None,
    null_size: int = NULL_SIZE,
) -> Iterator[tuple[str, TaskResult]]:
    """Yield (feature set, result) of a CPJUMP1 task or of pair rules, set after set.

    Parameters
    ----------
    tables
        Well profiles per feature set.
    task
        A CPJUMP1 task name (``evaluation.tasks.TASKS``) or copairs pair rules.
    cancel
        Set to stop: kills ``process`` mid-evaluation.
    process
        Where each evaluation runs (in this process when None). A child process, which
        setting ``cancel`` kills: copairs' null loops cannot be interrupted in a thread.
    null_size
        Permutations of the null per group (the dock uses ``phenoscope evaluate``'s).

    Yields
    ------
    tuple of (str, TaskResult)
        The feature set's name and its result, seeded with ``SEED`` at ``THRESHOLD``.
    """
    for name, profiles in tables.items():
        source = f"{name} well profiles"
        function = evaluate_profiles if isinstance(task, PairRules) else evaluate
        args = (profiles, task, null_size, SEED, THRESHOLD, source)
        if process is None:
            yield name, function(*args)
        else:
            yield name, process.run(function, *args, cancel=cancel or threading.Event())


def query_wells(
    profiles: pd.DataFrame, query: pd.Series, by: list[str] | None = None
) -> list[tuple[str, str]]:
    """(plate, well) of the well profiles of a per-query row's group.

    Wells match on ``by`` (pair rules: the mAP's group columns), by default on
    ``Metadata_broad_sample`` and modality (a consensus row of a gene task has no wells of
    its own: its guide's or compound's wells are meant).
    """
    by = by or [BROAD_SAMPLE, MODALITY]
    columns = [c for c in by if c in query.index and c in profiles]
    if not columns:
        return []
    mask = np.ones(len(profiles), dtype=bool)
    for column in columns:
        mask &= (profiles[column].astype(str) == str(query[column])).to_numpy()
    rows = profiles[mask]
    return list(zip(rows[PLATE].astype(str), rows[WELL].astype(str), strict=True))


def stratum_name(row: pd.Series) -> str:
    """A summary row's stratum, e.g. ``compound -> crispr`` or ``orf``."""
    name = str(row.get(STRATUM) or row.get(MODALITY, ""))
    reference = row.get(REFERENCE)
    if isinstance(reference, str) and reference and reference != name:
        name += f" -> {reference}"
    cell = row.get("Metadata_cell_type")
    if isinstance(cell, str) and cell:
        name += f" ({cell})"
    return name


def fraction_retrieved_table(results: dict[tuple[str, str], TaskResult], task: str) -> pd.DataFrame:
    """Fraction retrieved per stratum (rows) and feature set (columns) of one task."""
    columns = {
        feature_set: {
            stratum_name(row): float(row["fraction_retrieved"])
            for _, row in result.summary.iterrows()
        }
        for (name, feature_set), result in results.items()
        if name == task
    }
    return pd.DataFrame(columns)[sorted(columns)]


def summary_html(result: TaskResult, feature_set: str) -> str:
    """One line per stratum: mAP, retrieved groups and fraction retrieved."""
    lines = []
    for _, row in result.summary.iterrows():
        n_groups = int(row["n_groups"])
        fraction = float(row["fraction_retrieved"])
        lines.append(
            f"{stratum_name(row)}: mAP {float(row[MAP]):.3f}, "
            f"{round(fraction * n_groups)} of {n_groups} retrieved "
            f"(fraction {fraction:.2f})"
        )
    head = f"<b>{result.task}</b> on <b>{feature_set}</b> profiles (corrected p &lt; {THRESHOLD:g})"
    return head + "<br>" + "<br>".join(lines)

# Long (~400 lines): the four CPJUMP1 tasks share one stratified runner and its metadata
# checks; each task is one short function beside the others it is compared with.
"""The four CPJUMP1 retrieval tasks on a well-level profile table.

* ``replicate``: each perturbation's replicate wells against the negative-control wells of
  the query's plate (well level, per modality).
* ``sister``: compounds against compounds sharing a target, excluding the same compound
  (consensus profiles).
* ``compound-gene``: compounds against the CRISPR and, separately, the ORF profiles of their
  target genes (consensus profiles).
* ``crispr-orf``: CRISPR guides against the ORFs of the same gene (consensus profiles).

Every task runs per stratum (modality and, when the table has it, cell type), returns the
per-query AP table with its group's mAP and p-values, the per-group mAP table and a
summary (mAP, fraction retrieved) per stratum. The exact pair rules are in
docs/retrieval.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import napari_phenoscope.evaluation.precision as metrics
from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CELL_LINE,
    CONTROL_TYPE,
    GENE,
    MODALITY,
    NEGATIVE_CONTROL,
    PLATE,
    TARGET_LIST,
)
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.profiles import (
    metadata_columns,
    read_profiles,
    require_columns,
    split_profiles,
    write_profiles,
)

TASKS = ("replicate", "sister", "compound-gene", "crispr-orf")
#: Summary column naming the modality the queries retrieve (``compound-gene``: crispr/orf).
REFERENCE = "reference"
#: Per-query column of multilabel tasks: the target gene a (query, positives) list is for.
MATCHED_LABEL = "matched_target"
#: Internal columns (never written): copairs' reference-index recipe and multilabel lists.
_REFERENCE_INDEX = "Metadata__reference_index"
_LABELS = "Metadata__labels"
_SUMMARY_COLUMNS = (
    "task",
    MODALITY,
    REFERENCE,
    CELL_LINE,
    "n_groups",
    metrics.MAP,
    "fraction_retrieved",
)


@dataclass(frozen=True)
class TaskResult:
    """What a retrieval task returns.

    Attributes
    ----------
    task : str
        The task name.
    per_query : pandas.DataFrame
        One row per query (and label, for multilabel tasks) with a positive: metadata,
        ``average_precision``, pair counts, and the group's ``mean_average_precision``,
        ``p_value``, ``corrected_p_value``, ``below_corrected_p``.
    per_group : pandas.DataFrame
        One row per group (perturbation, compound or gene) with mAP and p-values.
    summary : pandas.DataFrame
        One row per stratum: ``task``, modality, reference, cell type, ``n_groups``,
        ``mean_average_precision`` (mean over groups) and ``fraction_retrieved``.
    """

    task: str
    per_query: pd.DataFrame
    per_group: pd.DataFrame
    summary: pd.DataFrame


def evaluate(
    profiles: pd.DataFrame,
    task: str,
    null_size: int = 10000,
    seed: int = 0,
    threshold: float = 0.05,
    source: str = "profiles",
    null: str = "auto",
) -> TaskResult:
    """Run one CPJUMP1 retrieval task on a well-level profile table.

    Parameters
    ----------
    profiles : pandas.DataFrame
        Well-level profiles: ``Metadata_*`` columns (see docs/retrieval.md for those each
        task needs) and numeric features.
    task : {"replicate", "sister", "compound-gene", "crispr-orf"}
        Which task.
    null_size, seed, threshold
        Permutation null size, its seed, and the significance level.
    null : {"auto", "copairs", "sampled"}
        How the nulls are drawn (``evaluation.precision.mean_average_precision``); the per-query
        and per-group tables say which in ``null_method``.
    source : str
        Name of the table in error messages.

    Returns
    -------
    TaskResult

    Raises
    ------
    ProfileTableError
        Missing required column, non-numeric or NaN features, no negative controls, or a
        task with no query that has a positive.
    """
    if task not in _RUNNERS:
        raise ProfileTableError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    _, feats, _ = split_profiles(profiles, source)
    table = profiles.reset_index(drop=True)
    require_columns(table, _REQUIRED[task], source)
    table = _fill_metadata(table)
    per_query, per_group, summary = [], [], []
    for stratum, query_table, feature_rows, rules in _RUNNERS[task](table, feats, source):
        try:
            queries, groups = _run_stratum(
                query_table, feature_rows, rules, null_size, seed, threshold, null
            )
        except metrics.NoPairsError:
            continue  # e.g. a cell type where no two compounds share a target
        for column, value in stratum.items():
            queries[column] = value
            groups[column] = value
        per_query.append(queries)
        per_group.append(groups)
        summary.append(
            {
                "task": task,
                **stratum,
                "n_groups": len(groups),
                metrics.MAP: groups[metrics.MAP].mean(),
                "fraction_retrieved": metrics.fraction_retrieved(groups, threshold),
            }
        )
    if not per_query:
        raise ProfileTableError(f"{source}: no perturbation has a positive for task {task!r}")
    summary_table = pd.DataFrame(summary).reindex(
        columns=[c for c in _SUMMARY_COLUMNS if c in pd.DataFrame(summary).columns]
    )
    return TaskResult(
        task,
        pd.concat(per_query, ignore_index=True),
        pd.concat(per_group, ignore_index=True),
        summary_table,
    )


# --- shared steps -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rules:
    pos_sameby: list[str]
    pos_diffby: list[str]
    neg_sameby: list[str]
    neg_diffby: list[str]
    group_by: list[str]
    query_mask: Callable[[pd.DataFrame], np.ndarray]
    multilabel: str | None = None


def _fill_metadata(table: pd.DataFrame) -> pd.DataFrame:
    """Empty strings for missing text metadata (controls often have no target or gene)."""
    table = table.copy()
    for column in (CONTROL_TYPE, TARGET_LIST, GENE, BROAD_SAMPLE, CELL_LINE, MODALITY):
        if column in table.columns:
            table[column] = table[column].fillna("").astype(str)
    return table


def _is_negcon(table: pd.DataFrame) -> np.ndarray:
    return (table[CONTROL_TYPE] == NEGATIVE_CONTROL).to_numpy()


def _cell_types(table: pd.DataFrame) -> list[tuple[dict, np.ndarray]]:
    """(stratum label, row mask) per cell type, or one stratum when there is no cell type."""
    if CELL_LINE not in table.columns:
        return [({}, np.ones(len(table), dtype=bool))]
    return [
        ({CELL_LINE: cell}, (table[CELL_LINE] == cell).to_numpy())
        for cell in sorted(table[CELL_LINE].unique())
    ]


def _consensus(
    table: pd.DataFrame, feats: np.ndarray, mask: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    """Median profile per perturbation (``BROAD_SAMPLE``) over the rows in ``mask``."""
    rows = table[mask]
    if rows.empty:
        return rows, feats[:0]
    codes, _ = pd.factorize(rows[BROAD_SAMPLE])
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0, True])
    selected = feats[mask][order]
    medians = np.stack([np.median(selected[lo:hi], axis=0) for lo, hi in pairwise(bounds)])
    firsts = rows.iloc[order[bounds[:-1]]]
    return firsts[metadata_columns(firsts)].reset_index(drop=True), medians


def pairwise(values: np.ndarray):
    """Consecutive pairs (v0, v1), (v1, v2), ..."""
    return zip(values[:-1], values[1:], strict=True)


def _run_stratum(meta, feats, rules: _Rules, null_size, seed, threshold, null="auto"):
    """AP for every row, mAP per group of the query rows; (per-query, per-group) tables."""
    rule_args = (rules.pos_sameby, rules.pos_diffby, rules.neg_sameby, rules.neg_diffby)
    if rules.multilabel:
        ap = metrics.average_precision_multilabel(
            meta, feats, *rule_args, multilabel_col=rules.multilabel
        )
    else:
        ap = metrics.average_precision(meta, feats, *rule_args)
    ap = ap[rules.query_mask(ap) & ap[metrics.N_POS].gt(0).to_numpy()]
    ap = ap.drop(columns=[_REFERENCE_INDEX], errors="ignore")
    ap = ap.rename(columns={_LABELS: MATCHED_LABEL})
    if ap.empty:
        raise metrics.NoPairsError("no query has a positive: nothing to retrieve")
    groups = metrics.mean_average_precision(
        ap, rules.group_by, null_size, threshold, seed, null=null
    )
    significance = [metrics.MAP, metrics.P_VALUE, metrics.CORRECTED_P, metrics.BELOW_CORRECTED_P]
    significance.append(metrics.NULL_METHOD)
    per_query = ap.merge(groups[rules.group_by + significance], on=rules.group_by, how="left")
    return per_query.reset_index(drop=True), groups


# --- the four tasks -----------------------------------------------------------------------


def _replicate(table, feats, source):
    if not _is_negcon(table).any():
        raise ProfileTableError(
            f"{source}: no negative controls ({CONTROL_TYPE} == {NEGATIVE_CONTROL!r})"
        )
    rules = _Rules(
        # copairs' reference-index recipe: controls never pair as positives
        pos_sameby=[BROAD_SAMPLE, _REFERENCE_INDEX],
        pos_diffby=[],
        neg_sameby=[PLATE],
        neg_diffby=[_REFERENCE_INDEX],
        group_by=[BROAD_SAMPLE],
        query_mask=lambda ap: (ap[CONTROL_TYPE] != NEGATIVE_CONTROL).to_numpy(),
    )
    for modality in sorted(table[MODALITY].unique()):
        for cell_label, cell_mask in _cell_types(table):
            mask = cell_mask & (table[MODALITY] == modality).to_numpy()
            rows = table[mask].reset_index(drop=True)
            negcon = _is_negcon(rows)
            if not negcon.any() or negcon.all():
                continue
            rows[_REFERENCE_INDEX] = np.where(negcon, np.arange(len(rows)), -1)
            yield {MODALITY: modality, **cell_label}, rows, feats[mask], rules


def _genetic_labels(rows: pd.DataFrame) -> pd.Series:
    return rows[GENE].map(lambda gene: (gene,) if gene else ())


def _compound_labels(rows: pd.DataFrame) -> pd.Series:
    return rows[TARGET_LIST].map(lambda targets: tuple(t for t in targets.split("|") if t))


def _treated(table: pd.DataFrame, modality: str, label_column: str) -> np.ndarray:
    return (
        (table[MODALITY] == modality).to_numpy()
        & ~_is_negcon(table)
        & (table[label_column] != "").to_numpy()
    )


def _sister(table, feats, source):
    rules = _Rules(
        pos_sameby=[_LABELS],
        pos_diffby=[BROAD_SAMPLE],
        neg_sameby=[],
        neg_diffby=[_LABELS, BROAD_SAMPLE],
        group_by=[BROAD_SAMPLE],
        query_mask=lambda ap: np.ones(len(ap), dtype=bool),
        multilabel=_LABELS,
    )
    for cell_label, cell_mask in _cell_types(table):
        rows, profiles = _consensus(
            table, feats, cell_mask & _treated(table, "compound", TARGET_LIST)
        )
        if len(rows) < 2:
            continue
        rows[_LABELS] = _compound_labels(rows)
        yield {MODALITY: "compound", REFERENCE: "compound", **cell_label}, rows, profiles, rules


def _compound_gene(table, feats, source):
    rules = _Rules(
        pos_sameby=[_LABELS],
        pos_diffby=[MODALITY],
        neg_sameby=[],
        neg_diffby=[_LABELS, MODALITY],
        group_by=[BROAD_SAMPLE],
        query_mask=lambda ap: (ap[MODALITY] == "compound").to_numpy(),
        multilabel=_LABELS,
    )
    for genetic in ("crispr", "orf"):
        for cell_label, cell_mask in _cell_types(table):
            compounds, compound_profiles = _consensus(
                table, feats, cell_mask & _treated(table, "compound", TARGET_LIST)
            )
            genes, gene_profiles = _consensus(
                table, feats, cell_mask & _treated(table, genetic, GENE)
            )
            if compounds.empty or genes.empty:
                continue
            compounds[_LABELS] = _compound_labels(compounds)
            genes[_LABELS] = _genetic_labels(genes)
            rows = pd.concat([compounds, genes], ignore_index=True)
            profiles = np.vstack([compound_profiles, gene_profiles])
            stratum = {MODALITY: "compound", REFERENCE: genetic, **cell_label}
            yield stratum, rows, profiles, rules


def _crispr_orf(table, feats, source):
    rules = _Rules(
        pos_sameby=[GENE],
        pos_diffby=[MODALITY],
        neg_sameby=[],
        neg_diffby=[GENE, MODALITY],
        group_by=[GENE],
        query_mask=lambda ap: (ap[MODALITY] == "crispr").to_numpy(),
    )
    for cell_label, cell_mask in _cell_types(table):
        guides, guide_profiles = _consensus(
            table, feats, cell_mask & _treated(table, "crispr", GENE)
        )
        orfs, orf_profiles = _consensus(table, feats, cell_mask & _treated(table, "orf", GENE))
        if guides.empty or orfs.empty:
            continue
        rows = pd.concat([guides, orfs], ignore_index=True)
        profiles = np.vstack([guide_profiles, orf_profiles])
        yield {MODALITY: "crispr", REFERENCE: "orf", **cell_label}, rows, profiles, rules


_RUNNERS = {
    "replicate": _replicate,
    "sister": _sister,
    "compound-gene": _compound_gene,
    "crispr-orf": _crispr_orf,
}
_REQUIRED = {
    "replicate": (PLATE, BROAD_SAMPLE, MODALITY, CONTROL_TYPE),
    "sister": (BROAD_SAMPLE, MODALITY, CONTROL_TYPE, TARGET_LIST),
    "compound-gene": (BROAD_SAMPLE, MODALITY, CONTROL_TYPE, TARGET_LIST, GENE),
    "crispr-orf": (BROAD_SAMPLE, MODALITY, CONTROL_TYPE, GENE),
}


NULL_DESCRIPTIONS = {
    "copairs": "copairs' permutations (p-values identical to copairs')",
    "sampled": "positives' ranks sampled (p-values equal to copairs' within Monte-Carlo error)",
}


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as a compact text table (mAP and fraction retrieved to 3 decimals)."""
    return summary.to_string(index=False, float_format=lambda value: f"{value:.3f}")


def evaluate_file(
    path: str,
    task: str,
    null_size: int = 10000,
    seed: int = 0,
    out: str | None = None,
    null: str = "auto",
) -> str:
    """Run a task on a profile file, write the per-query table to ``out``; return the
    summary text (what ``phenoscope evaluate`` prints), which says how the nulls were drawn."""
    result = evaluate(read_profiles(path), task, null_size, seed, source=Path(path).name, null=null)
    text = format_summary(result.summary)
    methods = sorted(set(result.per_group[metrics.NULL_METHOD]))
    text += f"\nnull distributions: {', '.join(NULL_DESCRIPTIONS[m] for m in methods)}"
    if out:
        written = write_profiles(result.per_query, out)
        text += f"\nper-query table ({len(result.per_query)} rows) -> {written}"
    return text

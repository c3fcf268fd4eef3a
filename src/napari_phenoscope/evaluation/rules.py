# Long (~410 lines): the pair rules, their checks against a table and the run over them stay
# together, so what a rule means and how it is applied are read in one place.
"""Retrieval on any profile table with copairs' own vocabulary.

The CPJUMP1 presets (``tasks``) fix their pair rules; here the user gives them, as in
``copairs.map.average_precision``: a positive pair shares every ``pos_sameby`` value and
differs in every ``pos_diffby`` value, likewise negatives. Two set-ups of copairs are
built in:

* ``reference=(column, value)``: copairs' "replicate vs reference" (phenotypic activity)
  recipe. Rows with ``column == value`` (e.g. ``Metadata_control_type=negcon``) are the
  reference; each of them gets its own ``assign_reference_index`` value, the others -1, and
  that index joins ``pos_sameby`` and ``neg_diffby``: the queries' negatives are reference
  rows only, and reference rows are no queries.
* ``multilabel=column``: a column of label lists (Parquet lists, or ``|``-separated text
  such as ``BRD4|PLK1``); copairs' ``multilabel.average_precision``. The column joins
  ``pos_sameby`` and ``neg_diffby`` when not already there.

Missing metadata keep pycytominer's meaning (NaN = not known). copairs refuses missing
values in a rule column; so do we, naming the column, unless ``drop_missing`` drops those
rows (a column with no value at all is refused either way). Reference rows are the
exception: a negative-control well without a perturbation (NaN ``broad_sample``) is a
reference like any other, as each reference row is a group of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import napari_phenoscope.evaluation.precision as metrics
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.evaluation.tasks import TaskResult
from napari_phenoscope.io.profile_tables import describe, load_profile_table, profile_table
from napari_phenoscope.io.profiles import write_profiles

#: Summary column naming what a row of the summary covers (rules have one stratum).
STRATUM = "stratum"
#: Group value given to reference rows that have none (see ``evaluate_rules``).
REFERENCE_GROUP = "(reference)"
#: Internal column holding copairs' reference index (never written out).
REFERENCE_INDEX = "Metadata__reference_index"


@dataclass(frozen=True)
class PairRules:
    """Which rows pair as positives and negatives (copairs' arguments).

    Attributes
    ----------
    pos_sameby, pos_diffby, neg_sameby, neg_diffby : tuple of str
        copairs' rules. Without any negative rule, ``neg_diffby`` defaults to
        ``pos_sameby`` (negatives differ in every ``pos_sameby`` column), or, with a
        ``reference``, to nothing (negatives are every reference row).
    reference : (str, str) or None
        ``(column, value)``: rank every group against the rows with that value only.
    multilabel : str or None
        A column of label lists or ``|``-separated labels.
    map_by : tuple of str or None
        Groups of the mAP (default ``pos_sameby``, as copairs' examples do).
    """

    pos_sameby: tuple[str, ...]
    pos_diffby: tuple[str, ...] = ()
    neg_sameby: tuple[str, ...] = ()
    neg_diffby: tuple[str, ...] = ()
    reference: tuple[str, str] | None = None
    multilabel: str | None = None
    map_by: tuple[str, ...] | None = None

    def resolved(self) -> PairRules:
        """The rules copairs is called with: defaults filled, multilabel column added."""
        if not self.pos_sameby and not self.pos_diffby and not self.multilabel:
            raise ProfileTableError("--pos-sameby or --pos-diffby must name a column")
        if self.reference and not self.pos_sameby:
            raise ProfileTableError("--reference needs --pos-sameby (the perturbation column)")
        if self.reference and self.multilabel:
            raise ProfileTableError("--reference and --multilabel cannot be combined")
        pos_sameby, neg_diffby = list(self.pos_sameby), list(self.neg_diffby)
        if not self.neg_sameby and not neg_diffby and not self.reference:
            neg_diffby = list(pos_sameby)  # (with a reference: the reference rows only)
        if self.multilabel:
            pos_sameby += [] if self.multilabel in pos_sameby else [self.multilabel]
            neg_diffby += [] if self.multilabel in neg_diffby else [self.multilabel]
        for kind, same, diff in (
            ("pos", pos_sameby, self.pos_diffby),
            ("neg", self.neg_sameby, neg_diffby),
        ):
            shared = sorted(set(same) & set(diff))
            if shared:
                raise ProfileTableError(
                    f"column {shared[0]!r} is in both --{kind}-sameby and --{kind}-diffby"
                )
        return PairRules(
            tuple(pos_sameby),
            tuple(self.pos_diffby),
            tuple(self.neg_sameby),
            tuple(neg_diffby),
            self.reference,
            self.multilabel,
            tuple(self.map_by) if self.map_by else tuple(pos_sameby),
        )

    def columns(self) -> list[str]:
        """Every metadata column the rules read, once, in order."""
        named = [*self.pos_sameby, *self.pos_diffby, *self.neg_sameby, *self.neg_diffby]
        named += [*(self.map_by or ()), *([self.reference[0]] if self.reference else [])]
        return list(dict.fromkeys(named))


@dataclass(frozen=True)
class RetrievalResult:
    """AP per query, mAP per group, and a one-line summary.

    Attributes
    ----------
    per_query : pandas.DataFrame
        One row per query with a positive (per (query, label) with ``multilabel``):
        metadata, pair counts, ``average_precision`` and its group's mAP and p-values.
    per_group : pandas.DataFrame
        copairs' ``mean_average_precision`` table, one row per ``map_by`` group.
    summary : dict
        ``n_profiles``, ``n_queries``, ``n_groups``, ``mean_average_precision`` (mean over
        groups), ``fraction_retrieved`` (corrected p below the threshold), ``dropped``.
    """

    per_query: pd.DataFrame
    per_group: pd.DataFrame
    summary: dict


def parse_reference(text: str) -> tuple[str, str]:
    """``"COL=VALUE"`` -> ``(COL, VALUE)``; a one-line error otherwise."""
    column, sep, value = text.partition("=")
    if not sep or not column.strip():
        raise ProfileTableError(f"--reference {text!r}: expected COLUMN=VALUE")
    return column.strip(), value.strip()


def parse_columns(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"A,B"`` (or repeated flags) -> ``("A", "B")``."""
    if not text:
        return ()
    parts = [text] if isinstance(text, str) else list(text)
    return tuple(c.strip() for part in parts for c in part.split(",") if c.strip())


def _check_column(meta: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """Rows where ``column`` has a value; one-line errors for a missing or empty column."""
    if column not in meta.columns:
        known = ", ".join(c for c in meta.columns if c != REFERENCE_INDEX)
        raise ProfileTableError(f"{source}: no metadata column {column!r} (columns: {known})")
    present = meta[column].notna().to_numpy()
    if not present.any():
        raise ProfileTableError(
            f"{source}: metadata column {column!r} has no value in any row (all NaN); "
            "it cannot group profiles"
        )
    return present


def _reference_mask(meta: pd.DataFrame, column: str, value: str, source: str) -> np.ndarray:
    values = meta[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        try:
            mask = (values == float(value)).to_numpy()
        except ValueError:
            mask = np.zeros(len(values), dtype=bool)
    else:
        mask = (values.notna() & (values.astype(str) == value)).to_numpy()
    if not mask.any():
        shown = ", ".join(map(str, values.dropna().unique()[:6]))
        raise ProfileTableError(
            f"{source}: --reference: no row has {column} == {value!r} (values: {shown})"
        )
    if mask.all():
        raise ProfileTableError(f"{source}: --reference: every row has {column} == {value!r}")
    return mask


def _name_reference_groups(meta: pd.DataFrame, is_reference: np.ndarray, columns) -> pd.DataFrame:
    """Reference rows missing a group value get ``REFERENCE_GROUP`` there.

    Negative-control wells often have no perturbation (an empty ``broad_sample`` in the
    JUMP plate maps, NaN once read). As references each is a group of its own anyway
    (copairs' reference index), so their missing group values are no reason to refuse
    them; queries missing one still are.
    """
    meta = meta.copy()
    for column in dict.fromkeys(columns):
        if column not in meta.columns:
            continue
        gaps = is_reference & meta[column].isna().to_numpy()
        if gaps.any():
            meta[column] = meta[column].astype(object)
            meta.loc[gaps, column] = REFERENCE_GROUP
    return meta


def _usable_rows(meta, rules: PairRules, source: str, drop_missing: bool) -> np.ndarray:
    keep = np.ones(len(meta), dtype=bool)
    # the reference column is not a group key: a row without a value is no reference
    reference_column = rules.reference[0] if rules.reference else None
    for column in (c for c in rules.columns() if c != reference_column):
        present = _check_column(meta, column, source)
        if not present.all() and not drop_missing:
            raise ProfileTableError(
                f"{source}: metadata column {column!r} is missing in {int((~present).sum())} "
                f"of {len(meta)} rows; fill it or drop those rows (--drop-missing)"
            )
        keep &= present
    return keep


def evaluate_rules(
    metadata: pd.DataFrame,
    features: np.ndarray,
    rules: PairRules,
    null_size: int = 10000,
    seed: int = 0,
    threshold: float = 0.05,
    source: str = "profiles",
    drop_missing: bool = False,
) -> RetrievalResult:
    """AP, mAP and permutation p-values for copairs-style pair rules.

    Parameters
    ----------
    metadata : pandas.DataFrame
        One row per profile (``Metadata_*`` columns).
    features : numpy.ndarray, shape (len(metadata), d)
        Finite profiles.
    rules : PairRules
        The pair rules (see :class:`PairRules`).
    null_size, seed, threshold
        Permutation null size and seed, significance level (copairs' arguments).
    source : str
        Name of the table in messages.
    drop_missing : bool
        Drop rows missing a value in a rule column instead of refusing them.

    Returns
    -------
    RetrievalResult
        The numbers of ``copairs.map.average_precision`` (or ``multilabel``) and
        ``mean_average_precision`` for the same rules, seed and null size.

    Raises
    ------
    ProfileTableError
        One line naming the column: absent, all NaN, partly NaN (without
        ``drop_missing``), a reference value no row has, or no pair at all.
    """
    rules = rules.resolved()
    meta = metadata.reset_index(drop=True)
    is_reference = np.zeros(len(meta), dtype=bool)
    if rules.reference:
        _check_column(meta, rules.reference[0], source)
        is_reference = _reference_mask(meta, *rules.reference, source)
        meta = _name_reference_groups(meta, is_reference, [*rules.pos_sameby, *rules.map_by])
    keep = _usable_rows(meta, rules, source, drop_missing)
    meta, feats = meta[keep].reset_index(drop=True), np.asarray(features)[keep]
    is_reference = is_reference[keep]
    query = ~is_reference
    if rules.reference:
        meta = meta.assign(**{REFERENCE_INDEX: np.where(is_reference, np.arange(len(meta)), -1)})
        rules = PairRules(
            (*rules.pos_sameby, REFERENCE_INDEX),
            rules.pos_diffby,
            rules.neg_sameby,
            (*rules.neg_diffby, REFERENCE_INDEX),
            rules.reference,
            None,
            rules.map_by,
        )
    args = (list(rules.pos_sameby), list(rules.pos_diffby))
    args += (list(rules.neg_sameby), list(rules.neg_diffby))
    try:
        if rules.multilabel:
            ap = metrics.average_precision_multilabel(meta, feats, *args, rules.multilabel)
        else:
            ap = metrics.average_precision(meta, feats, *args)
            ap = ap[query]
    except metrics.NoPairsError as error:
        raise ProfileTableError(f"{source}: {error}") from error
    ap = ap[ap[metrics.AP].notna() & ap[metrics.N_POS].gt(0)].drop(
        columns=[REFERENCE_INDEX], errors="ignore"
    )
    if ap.empty:
        raise ProfileTableError(f"{source}: no query has a positive pair; check the rules")
    map_by = list(rules.map_by)
    groups = metrics.mean_average_precision(ap, map_by, null_size, threshold, seed)
    significance = [metrics.MAP, metrics.P_VALUE, metrics.CORRECTED_P, metrics.BELOW_CORRECTED_P]
    per_query = ap.merge(groups[map_by + significance], on=map_by, how="left")
    summary = {
        "n_profiles": len(meta),
        "n_queries": len(ap),
        "n_groups": len(groups),
        metrics.MAP: float(groups[metrics.MAP].mean()),
        "fraction_retrieved": metrics.fraction_retrieved(groups, threshold),
        "dropped": int((~keep).sum()),
    }
    return RetrievalResult(per_query.reset_index(drop=True), groups, summary)


def format_result(result: RetrievalResult, rules: PairRules, threshold: float = 0.05) -> str:
    """What ``phenoscope evaluate`` prints for custom rules: the rules, then the numbers."""
    resolved = rules.resolved()
    lines = [
        "rules: "
        + "; ".join(
            f"{name}={','.join(columns)}"
            for name, columns in (
                ("pos_sameby", resolved.pos_sameby),
                ("pos_diffby", resolved.pos_diffby),
                ("neg_sameby", resolved.neg_sameby),
                ("neg_diffby", resolved.neg_diffby),
            )
            if columns
        )
        + (f"; reference {'='.join(rules.reference)}" if rules.reference else "")
    ]
    s = result.summary
    if s["dropped"]:
        lines.append(f"dropped {s['dropped']} row(s) missing a rule column")
    lines.append(
        f"{s['n_queries']} queries of {s['n_profiles']} profiles, {s['n_groups']} groups "
        f"({','.join(resolved.map_by)}): mAP {s[metrics.MAP]:.3f}, "
        f"{s['fraction_retrieved']:.1%} retrieved (corrected p < {threshold})"
    )
    return "\n".join(lines)


def evaluate_rules_file(
    path: str | Path,
    rules: PairRules,
    null_size: int = 10000,
    seed: int = 0,
    threshold: float = 0.05,
    out: str | Path | None = None,
    drop_missing: bool = False,
) -> str:
    """Evaluate ``rules`` on a profile file, write the per-query table to ``out``; return
    the text ``phenoscope evaluate`` prints (the table, the rules, the numbers)."""
    table = load_profile_table(path)
    result = evaluate_rules(
        table.metadata,
        table.features,
        rules,
        null_size,
        seed,
        threshold,
        source=table.source,
        drop_missing=drop_missing,
    )
    text = describe(table) + "\n" + format_result(result, rules, threshold)
    if out:
        written = write_profiles(result.per_query, out)
        text += f"\nper-query table ({len(result.per_query)} rows) -> {written}"
    return text


def rules_label(rules: PairRules) -> str:
    """A short name of the rules, e.g. ``Metadata_broad_sample vs Metadata_pert_type=control``."""
    resolved = rules.resolved()
    label = ",".join(resolved.pos_sameby) or "labels"
    if resolved.pos_diffby:
        label += f" (other {','.join(resolved.pos_diffby)})"
    if rules.reference:
        label += f" vs {'='.join(rules.reference)}"
    if resolved.neg_sameby:
        label += f" within {','.join(resolved.neg_sameby)}"
    return label


def as_task_result(result: RetrievalResult, rules: PairRules) -> TaskResult:
    """The result in the shape of a CPJUMP1 task's (what the Retrieval dock shows and plots)."""
    label = rules_label(rules)
    summary = pd.DataFrame(
        [
            {
                "task": label,
                STRATUM: "all profiles",
                "n_groups": result.summary["n_groups"],
                metrics.MAP: result.summary[metrics.MAP],
                "fraction_retrieved": result.summary["fraction_retrieved"],
            }
        ]
    )
    return TaskResult(label, result.per_query, result.per_group, summary)


def evaluate_profiles(
    profiles: pd.DataFrame,
    rules: PairRules,
    null_size: int = 10000,
    seed: int = 0,
    threshold: float = 0.05,
    source: str = "profiles",
) -> TaskResult:
    """Rules on a pycytominer-shaped DataFrame (the Retrieval dock's call), as a task result."""
    table = profile_table(profiles, source)
    result = evaluate_rules(
        table.metadata, table.features, rules, null_size, seed, threshold, source
    )
    return as_task_result(result, rules)

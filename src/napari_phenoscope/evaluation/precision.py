# Long (~400 lines): AP, multilabel AP, mAP with its nulls and BH correction are copairs'
# public API in one place, with copairs' semantics spelt out where each is computed.
"""Average precision, mAP, permutation nulls and BH correction with copairs semantics.

The numbers are those of copairs 0.5 (the library behind the CPJUMP1 paper) for the same
inputs; the way they are computed is not. copairs lists every positive and negative pair,
computes one cosine per pair and sorts all pairs; here the profiles sharing a negative set
are found once, their similarities to that set come from one blockwise matrix product, and
the rank of each positive is a ``searchsorted`` into the sorted similarities of its query.
Only queries that have positives are ranked; the others need only their pair counts.

The steps follow copairs' functional core: pairs (``_pairs``), then ranks and AP
(``_ranking``), then nulls and p-values (``_nulls``); this module is the public API over them.

Semantics kept from copairs (see docs/retrieval.md):

* pairs are unordered and never pair a profile with itself; a positive pair shares every
  ``pos_sameby`` value and differs in every ``pos_diffby`` value; likewise negatives. A pair
  that is both positive and negative counts once as each.
* cosine similarities are rounded to float32 and ranked by the float32 key ``1 - sim``;
  ties go to the positives (copairs' stable sort puts positives first).
* ``average_precision`` keeps every row; rows without positives get NaN.
* null distributions: one per (n_pos_pairs, n_total_pairs) configuration, seeded from the
  same stream, so p-values equal copairs' for the same seed (with an empty copairs cache);
  unless the permutations would cost too much, where the positives' ranks are sampled
  directly (same distributions, p-values within Monte-Carlo error; ``null_method`` says).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from napari_phenoscope.constants import RANK, SIMILARITY, is_metadata_column
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.evaluation.nulls import (
    COPAIRS_NULL_BUDGET,
    NULL_METHODS,
    benjamini_hochberg,
    copairs_null_cost,
    expected_average_precision,
    group_p_values,
    null_distributions,
    random_average_precisions,
    sampled_average_precisions,
)
from napari_phenoscope.evaluation.pairs import (
    NoPairsError,
    check_pairs,
    check_rules,
    column_codes,
    label_entries,
    multilabel_positive_pairs,
    negative_sets,
    positive_pairs,
)
from napari_phenoscope.evaluation.ranking import (
    BLOCK_ELEMENTS,
    aligned_unit_profiles,
    pair_similarities,
    unit_average_precision,
    unit_profiles,
)

__all__ = [
    "AP",
    "BELOW_CORRECTED_P",
    "BELOW_P",
    "BLOCK_ELEMENTS",
    "COPAIRS_NULL_BUDGET",
    "CORRECTED_P",
    "MAP",
    "NORMALIZED_AP",
    "NORMALIZED_MAP",
    "NULL_METHOD",
    "N_POS",
    "N_TOTAL",
    "P_VALUE",
    "RANK",
    "SIMILARITY",
    "NoPairsError",
    "average_precision",
    "average_precision_multilabel",
    "benjamini_hochberg",
    "expected_average_precision",
    "fraction_retrieved",
    "mean_average_precision",
    "null_distributions",
    "random_average_precisions",
    "rank_by_similarity",
    "sampled_average_precisions",
    "select_null_method",
    "unit_profiles",
]

AP = "average_precision"
NORMALIZED_AP = "normalized_average_precision"
N_POS = "n_pos_pairs"
N_TOTAL = "n_total_pairs"
MAP = "mean_average_precision"
NORMALIZED_MAP = "mean_normalized_average_precision"
P_VALUE = "p_value"
CORRECTED_P = "corrected_p_value"
BELOW_P = "below_p"
BELOW_CORRECTED_P = "below_corrected_p"
NULL_METHOD = "null_method"


def _normalized_ap(ap: np.ndarray, n_pos: np.ndarray, n_total: np.ndarray) -> np.ndarray:
    mu0 = expected_average_precision(n_pos, np.maximum(n_total, 1))
    return np.clip((ap - mu0) / np.maximum(1 - mu0, 1e-10), -1.0, 1.0)


def _result_table(meta, ap, n_pos, n_total) -> pd.DataFrame:
    result = meta.reset_index(drop=True).copy()
    result[N_POS] = n_pos.astype(np.int64)
    result[N_TOTAL] = n_total.astype(np.int64)
    result[AP] = ap
    normalized = np.full(len(ap), np.nan)
    paired = n_total > 0
    normalized[paired] = _normalized_ap(ap[paired], n_pos[paired], n_total[paired])
    result[NORMALIZED_AP] = normalized
    return result


# --- public API ---------------------------------------------------------------------------


def average_precision(
    meta: pd.DataFrame,
    feats: np.ndarray | pd.DataFrame,
    pos_sameby: Sequence[str],
    pos_diffby: Sequence[str],
    neg_sameby: Sequence[str],
    neg_diffby: Sequence[str],
    batch_size: int = BLOCK_ELEMENTS,
) -> pd.DataFrame:
    """Average precision of every profile retrieving its positives among its negatives.

    Same arguments and result as ``copairs.map.average_precision`` (cosine similarity).

    Parameters
    ----------
    meta : pandas.DataFrame
        Metadata, one row per profile.
    feats : array-like, shape (len(meta), d)
        Profiles (rows aligned with ``meta``).
    pos_sameby, pos_diffby : list of str
        A positive pair shares every ``pos_sameby`` value and differs in every ``pos_diffby``.
    neg_sameby, neg_diffby : list of str
        A negative pair shares every ``neg_sameby`` value and differs in every ``neg_diffby``.
    batch_size : int
        Elements per block of the similarity matrix (bounds memory; results do not depend
        on it).

    Returns
    -------
    pandas.DataFrame
        ``meta`` (index reset) plus ``n_pos_pairs``, ``n_total_pairs``,
        ``average_precision`` (NaN without positives) and ``normalized_average_precision``.

    Raises
    ------
    ProfileTableError
        Missing column, missing metadata values, NaN/inf features, zero rows, no pairs.

    Examples
    --------
    >>> ap = average_precision(meta, feats, ["Metadata_broad_sample"], [],
    ...                        ["Metadata_Plate"], ["Metadata_negcon"])  # doctest: +SKIP
    """
    check_rules(pos_sameby, pos_diffby, "pos")
    check_rules(neg_sameby, neg_diffby, "neg")
    xn = aligned_unit_profiles(meta, feats)
    codes = column_codes(meta, [*pos_sameby, *pos_diffby, *neg_sameby, *neg_diffby])
    n = len(meta)
    first, second = positive_pairs(codes, pos_sameby, pos_diffby, n)
    set_of_row, neg_sets, group_of_row = negative_sets(
        codes, neg_sameby, neg_diffby, n, block_elements=batch_size
    )
    check_pairs(len(first), set_of_row, neg_sets, self_in_sets=not neg_diffby)
    pair_sims = pair_similarities(xn, first, second, batch_size)
    ap, n_pos, n_total = unit_average_precision(
        xn,
        np.arange(n),
        np.r_[first, second],
        np.r_[pair_sims, pair_sims],
        set_of_row,
        neg_sets,
        group_of_row,
        self_in_sets=not neg_diffby,
        block_elements=batch_size,
    )
    return _result_table(meta, ap, n_pos, n_total)


def average_precision_multilabel(
    meta: pd.DataFrame,
    feats: np.ndarray | pd.DataFrame,
    pos_sameby: Sequence[str],
    pos_diffby: Sequence[str],
    neg_sameby: Sequence[str],
    neg_diffby: Sequence[str],
    multilabel_col: str,
    batch_size: int = BLOCK_ELEMENTS,
) -> pd.DataFrame:
    """AP per (profile, label) when a profile carries several labels (copairs multilabel).

    Same semantics as ``copairs.map.multilabel.average_precision``: ``multilabel_col`` holds
    a list of labels per row (lists, tuples or '|'-separated strings) and must be in
    ``pos_sameby`` and in ``neg_diffby``. For a label L, the positives of a profile carrying
    L are the profiles that also carry L (and satisfy the other positive rules); its
    negatives are the profiles sharing no label with it (and satisfying the other negative
    rules), whatever L.

    Returns
    -------
    pandas.DataFrame
        One row per (profile, label) with at least one positive: the metadata, the label in
        ``multilabel_col``, ``n_pos_pairs``, ``n_total_pairs``, ``average_precision`` and
        ``normalized_average_precision``; sorted by profile then label.
    """
    check_rules(pos_sameby, pos_diffby, "pos")
    check_rules(neg_sameby, neg_diffby, "neg")
    if multilabel_col not in pos_sameby or multilabel_col not in neg_diffby:
        raise ValueError(f"{multilabel_col!r} must be in pos_sameby and in neg_diffby")
    if multilabel_col not in meta.columns:
        raise ProfileTableError(f"metadata has no column {multilabel_col!r}")
    xn = aligned_unit_profiles(meta, feats)
    n = len(meta)
    pos_same = [c for c in pos_sameby if c != multilabel_col]
    neg_diff = [c for c in neg_diffby if c != multilabel_col]
    codes = column_codes(meta, [*pos_same, *pos_diffby, *neg_sameby, *neg_diff])

    label_ptr, entry_label, label_names = label_entries(meta[multilabel_col], multilabel_col)
    row_a, row_b, pair_label = multilabel_positive_pairs(
        codes, label_ptr, entry_label, pos_same, pos_diffby
    )
    set_of_row, neg_sets, group_of_row = negative_sets(
        codes, neg_sameby, neg_diff, n, labels=(label_ptr, entry_label), block_elements=batch_size
    )
    check_pairs(len(row_a), set_of_row, neg_sets, self_in_sets=False)
    unit_key = np.r_[row_a, row_b] * len(label_names) + np.r_[pair_label, pair_label]
    units, pos_unit = np.unique(unit_key, return_inverse=True)
    unit_rows = units // len(label_names)
    pair_sims = pair_similarities(xn, row_a, row_b, batch_size)
    ap, n_pos, n_total = unit_average_precision(
        xn,
        unit_rows,
        pos_unit.ravel(),
        np.r_[pair_sims, pair_sims],
        set_of_row,
        neg_sets,
        group_of_row,
        self_in_sets=False,
        block_elements=batch_size,
    )
    table = meta.drop(columns=multilabel_col).iloc[unit_rows]
    table[multilabel_col] = np.asarray(label_names, dtype=object)[units % len(label_names)]
    return _result_table(table, ap, n_pos, n_total)


# --- significance -------------------------------------------------------------------------


def select_null_method(
    configurations: np.ndarray, null_size: int, null: str, budget: int = COPAIRS_NULL_BUDGET
) -> str:
    """The null ``mean_average_precision`` draws: ``null`` itself, or for ``"auto"``,
    ``"copairs"`` when its permutations (null_size x sum of n_total ranks) fit ``budget``,
    else ``"sampled"``."""
    if null == "auto":
        return "copairs" if copairs_null_cost(configurations, null_size) <= budget else "sampled"
    if null not in NULL_METHODS:
        raise ValueError(f"null must be 'auto' or one of {NULL_METHODS}, got {null!r}")
    return null


def mean_average_precision(
    ap_scores: pd.DataFrame,
    sameby: str | Sequence[str],
    null_size: int,
    threshold: float,
    seed: int,
    null: str = "auto",
) -> pd.DataFrame:
    """mAP per group with permutation p-values and BH correction (copairs semantics).

    Parameters
    ----------
    ap_scores : pandas.DataFrame
        Output of :func:`average_precision`; rows with NaN AP or no positives are dropped.
    sameby : str or list of str
        Columns defining the groups (e.g. the perturbation).
    null_size : int
        Random rankings per null distribution.
    threshold : float
        Significance level for ``below_p`` / ``below_corrected_p``.
    seed : int
        Seed of the null distributions.
    null : {"auto", "copairs", "sampled"}
        How a random ranking is drawn. ``"copairs"``: a full permutation, copairs' very
        random numbers, so p-values are identical to copairs' (cost null_size x n_total
        per configuration). ``"sampled"``: only the positives' ranks (cost null_size x
        n_pos log n_pos), the same null distributions, p-values equal to copairs' within
        Monte-Carlo error. ``"auto"`` (default): ``"copairs"`` unless that would draw more
        than ``COPAIRS_NULL_BUDGET`` ranks (about ten seconds), then ``"sampled"``.

    Returns
    -------
    pandas.DataFrame
        ``sameby`` columns, ``mean_average_precision``, ``mean_normalized_average_precision``
        (when the input has normalized AP), ``p_value``, ``corrected_p_value``, ``below_p``,
        ``below_corrected_p`` and ``null_method`` (the null drawn: "copairs" or "sampled");
        one row per group, sorted by group.

    Notes
    -----
    The null of a group is the element-wise mean of its members' null distributions (one
    per (n_pos_pairs, n_total_pairs) configuration); p = (#null > mAP + 1) / (null_size + 1).
    """
    sameby = [sameby] if isinstance(sameby, str) else list(sameby)
    for column in [*sameby, AP, N_POS, N_TOTAL]:
        if column not in ap_scores.columns:
            raise ProfileTableError(f"AP table has no column {column!r}")
    scores = ap_scores[ap_scores[AP].notna() & (ap_scores[N_POS] > 0)].reset_index(drop=True)
    if scores.empty:
        raise ProfileTableError("no query has positives: nothing to average")
    configurations, conf_of_row = np.unique(
        scores[[N_POS, N_TOTAL]].to_numpy(dtype=np.int64), axis=0, return_inverse=True
    )
    conf_of_row = conf_of_row.ravel()
    method = select_null_method(configurations, null_size, null)
    nulls = null_distributions(configurations, null_size, seed, method)

    grouped = scores.groupby(sameby, observed=True, sort=True)
    value_columns = [AP] + ([NORMALIZED_AP] if NORMALIZED_AP in scores.columns else [])
    result = grouped[value_columns].mean().reset_index()
    result = result.rename(columns={AP: MAP, NORMALIZED_AP: NORMALIZED_MAP})

    group_of_row = grouped.ngroup().to_numpy()
    p_values = group_p_values(nulls, conf_of_row, group_of_row, result[MAP].to_numpy())
    result[P_VALUE] = p_values
    result[CORRECTED_P] = benjamini_hochberg(p_values)
    result[BELOW_P] = result[P_VALUE] < threshold
    result[BELOW_CORRECTED_P] = result[CORRECTED_P] < threshold
    result[NULL_METHOD] = method
    return result


def fraction_retrieved(map_scores: pd.DataFrame, threshold: float = 0.05) -> float:
    """Share of groups whose BH-corrected p-value is below ``threshold``."""
    if map_scores.empty:
        return float("nan")
    return float((map_scores[CORRECTED_P] < threshold).mean())


# --- one query against a table (GUI) ------------------------------------------------------


def rank_by_similarity(
    query_vector: np.ndarray,
    profiles_df: pd.DataFrame,
    feature_columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Rank the rows of a profile table by cosine similarity to one query profile.

    Parameters
    ----------
    query_vector : array-like, shape (d,)
        The query profile, in the order of ``feature_columns``.
    profiles_df : pandas.DataFrame
        Profiles: metadata (``Metadata_*``) and numeric feature columns.
    feature_columns : list of str, optional
        Features to compare (default: every non-metadata column).

    Returns
    -------
    pandas.DataFrame
        The metadata columns plus ``similarity`` (cosine, float32) and ``rank`` (1 = most
        similar), sorted by rank; the index keeps the input row labels.
    """
    columns = (
        list(feature_columns)
        if feature_columns is not None
        else [c for c in profiles_df.columns if not is_metadata_column(c)]
    )
    query = np.asarray(query_vector, dtype=np.float32).ravel()
    if query.size != len(columns):
        raise ProfileTableError(
            f"query has {query.size} values but the table has {len(columns)} feature columns"
        )
    matrix = profiles_df[columns].to_numpy(dtype=np.float32, copy=False)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    query_norm = float(np.linalg.norm(query))
    with np.errstate(divide="ignore", invalid="ignore"):
        similarity = (matrix @ query) / (norms * query_norm)
    similarity = np.where(np.isfinite(similarity), similarity, -np.inf).astype(np.float32)
    order = np.argsort(-similarity, kind="stable")
    metadata = [c for c in profiles_df.columns if is_metadata_column(c)]
    ranked = profiles_df[metadata].iloc[order].copy()
    ranked[SIMILARITY] = np.where(np.isinf(similarity[order]), np.nan, similarity[order])
    ranked[RANK] = np.arange(1, len(order) + 1)
    return ranked

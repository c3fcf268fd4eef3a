"""Average precision, mAP, permutation nulls and BH correction with copairs semantics.

The numbers are those of copairs 0.5 (the library behind the CPJUMP1 paper) for the same
inputs; the way they are computed is not. copairs lists every positive and negative pair,
computes one cosine per pair and sorts all pairs; here the profiles sharing a negative set
are found once, their similarities to that set come from one blockwise matrix product, and
the rank of each positive is a ``searchsorted`` into the sorted similarities of its query.
Only queries that have positives are ranked; the others need only their pair counts.

Semantics kept from copairs (see docs/retrieval.md):

* pairs are unordered and never pair a profile with itself; a positive pair shares every
  ``pos_sameby`` value and differs in every ``pos_diffby`` value; likewise negatives. A pair
  that is both positive and negative counts once as each.
* cosine similarities are rounded to float32 and ranked by the float32 key ``1 - sim``;
  ties go to the positives (copairs' stable sort puts positives first).
* ``average_precision`` keeps every row; rows without positives get NaN.
* null distributions: one per (n_pos_pairs, n_total_pairs) configuration, seeded from the
  same stream, so p-values equal copairs' for the same seed (with an empty copairs cache).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from napari_phenoscope.constants import is_metadata_column
from napari_phenoscope.errors import ProfileTableError

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
RANK = "rank"
SIMILARITY = "similarity"

#: Elements of one block of the similarity matrix (float64): bounds memory to ~32 MB.
BLOCK_ELEMENTS = 1 << 22
#: Sort key given to a query's own column so that it is never counted as a negative.
_EXCLUDED_KEY = np.float32(4.0)
#: Row offset of the flattened sorted keys: keys lie in [0, 2] and _EXCLUDED_KEY is 4.
_ROW_OFFSET = 8.0


class NoPairsError(ProfileTableError):
    """The pair rules leave no positive (or no negative) pair in the table."""


# --- inputs -------------------------------------------------------------------------------


def unit_profiles(feats: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Return the rows of ``feats`` scaled to unit length, as float64.

    Parameters
    ----------
    feats : array-like, shape (n, d)
        Profiles, one per row.

    Returns
    -------
    numpy.ndarray
        ``feats / ||feats||`` row by row (copairs' cosine formula), float64, C-ordered.

    Raises
    ------
    ProfileTableError
        If a value is NaN or infinite, or a row is all zeros (cosine undefined).
    """
    values = np.ascontiguousarray(np.asarray(feats, dtype=np.float64))
    if values.ndim != 2:
        raise ProfileTableError(f"features must be a 2-D table, got shape {values.shape}")
    bad_rows = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if bad_rows.size:
        raise ProfileTableError(
            f"features have NaN or infinite values in {bad_rows.size} row(s), first row "
            f"{bad_rows[0]}; drop or impute them (profiles.drop_invalid_features)"
        )
    norms = np.linalg.norm(values, axis=1)
    if (norms == 0).any():
        raise ProfileTableError(
            f"profile row {int(np.flatnonzero(norms == 0)[0])} is all zeros: cosine undefined"
        )
    return values / norms[:, np.newaxis]


def _column_codes(meta: pd.DataFrame, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Integer codes per column (equal values, equal codes); NaN is an error."""
    codes = {}
    for column in dict.fromkeys(columns):
        if column not in meta.columns:
            raise ProfileTableError(f"metadata has no column {column!r}")
        column_codes, _ = pd.factorize(meta[column])
        if (column_codes < 0).any():
            raise ProfileTableError(f"metadata column {column!r} has missing values")
        codes[column] = column_codes.astype(np.int64)
    return codes


def _group_ids(code_arrays: Sequence[np.ndarray], n: int) -> np.ndarray:
    """One id per distinct combination of codes (all zeros when there are no columns)."""
    if not code_arrays:
        return np.zeros(n, dtype=np.int64)
    _, inverse = np.unique(np.stack(code_arrays, axis=1), axis=0, return_inverse=True)
    return inverse.ravel()


def _check_rules(sameby: Sequence[str], diffby: Sequence[str], kind: str) -> None:
    if isinstance(sameby, str) or isinstance(diffby, str):
        raise TypeError(f"{kind}_sameby and {kind}_diffby must be lists of column names")
    if not sameby and not diffby:
        raise ValueError(f"{kind}_sameby or {kind}_diffby must name at least one column")
    if set(sameby) & set(diffby):
        raise ValueError(f"{kind}_sameby and {kind}_diffby must be disjoint")


# --- pairs --------------------------------------------------------------------------------


def _pairs_within_groups(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All unordered pairs of entries sharing a group id, as entry indices (a, b)."""
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    firsts, seconds = [], []
    for size in np.unique(sizes[sizes > 1]):
        block_starts = starts[sizes == size]
        upper_a, upper_b = np.triu_indices(size, 1)
        firsts.append(order[(block_starts[:, None] + upper_a).ravel()])
        seconds.append(order[(block_starts[:, None] + upper_b).ravel()])
    if not firsts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def _differ_in_all(codes: dict[str, np.ndarray], columns, a: np.ndarray, b: np.ndarray):
    keep = np.ones(len(a), dtype=bool)
    for column in columns:
        keep &= codes[column][a] != codes[column][b]
    return keep


def _negative_sets(
    codes: dict[str, np.ndarray],
    neg_sameby: Sequence[str],
    neg_diffby: Sequence[str],
    n: int,
    labels: tuple[np.ndarray, np.ndarray] | None = None,
    block_elements: int = BLOCK_ELEMENTS,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Negative partners of every row, shared by rows with the same negative signature.

    Returns ``set_of_row`` (n,) and ``sets`` (sorted row indices). A row's negatives are the
    rows of its ``neg_sameby`` group that differ in every ``neg_diffby`` column (and share
    no label, when ``labels`` = (label-row incidence as CSR ``indptr, label_ids``) is given).
    Rows with identical negative sets share one entry, so their similarities are computed
    against it in one matrix product.
    """
    same = _group_ids([codes[c] for c in neg_sameby], n)
    diff = np.stack([codes[c] for c in neg_diffby], axis=1) if neg_diffby else np.empty((n, 0))
    signature_parts = [same[:, None], diff.astype(np.int64)]
    if labels is not None:
        label_ptr, label_ids = labels
        label_sets = [tuple(label_ids[label_ptr[i] : label_ptr[i + 1]]) for i in range(n)]
        signature_parts.append(pd.factorize(pd.Series(label_sets))[0][:, None])
        has_label = np.zeros((n, int(label_ids.max()) + 1 if label_ids.size else 1), dtype=bool)
        has_label[np.repeat(np.arange(n), np.diff(label_ptr)), label_ids] = True
    signatures, signature_of_row = np.unique(
        np.hstack(signature_parts), axis=0, return_inverse=True
    )
    signature_of_row = signature_of_row.ravel()
    representative = np.zeros(len(signatures), dtype=np.int64)
    representative[signature_of_row] = np.arange(n)

    set_ids: dict[bytes, int] = {}
    sets: list[np.ndarray] = []
    set_of_signature = np.empty(len(signatures), dtype=np.int64)
    group_order = np.argsort(same, kind="stable")
    group_bounds = np.searchsorted(same[group_order], np.arange(same.max() + 2))
    for group_id in np.unique(same):
        members = group_order[group_bounds[group_id] : group_bounds[group_id + 1]]
        group_signatures = np.flatnonzero(signatures[:, 0] == group_id)
        chunk = max(1, block_elements // max(len(members), 1))
        for start in range(0, len(group_signatures), chunk):
            sig = group_signatures[start : start + chunk]
            keep = np.ones((len(sig), len(members)), dtype=bool)
            for col in range(diff.shape[1]):
                keep &= signatures[sig, 1 + col][:, None] != diff[members, col][None, :]
            if labels is not None:
                rep = representative[sig]
                shared = has_label[rep].astype(np.int32) @ has_label[members].T.astype(np.int32)
                keep &= shared == 0
            for signature, row_keep in zip(sig, keep, strict=True):
                key = np.packbits(row_keep).tobytes() + group_id.tobytes()
                if key not in set_ids:
                    set_ids[key] = len(sets)
                    sets.append(members[row_keep])
                set_of_signature[signature] = set_ids[key]
    return set_of_signature[signature_of_row], sets


# --- ranking ------------------------------------------------------------------------------


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """One BLAS thread: the blocks are many and small, where OpenBLAS threads mostly spin
    (25x slower on a loaded 2-core machine); threadpoolctl comes with scikit-learn."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _pair_similarities(
    xn: np.ndarray, first: np.ndarray, second: np.ndarray, block_elements: int
) -> np.ndarray:
    """Cosine similarity of each pair (rows already unit length), in blocks of pairs."""
    sims = np.empty(len(first), dtype=np.float64)
    step = max(1, block_elements // max(xn.shape[1], 1))
    for start in range(0, len(first), step):
        stop = start + step
        sims[start:stop] = np.einsum("ij,ij->i", xn[first[start:stop]], xn[second[start:stop]])
    return sims


def _sim_keys(similarities: np.ndarray) -> np.ndarray:
    """copairs' float32 sort key ``1 - sim`` (ascending = most similar first)."""
    return np.float32(1) - similarities.astype(np.float32)


def _unit_average_precision(
    xn: np.ndarray,
    unit_rows: np.ndarray,
    pos_unit: np.ndarray,
    pos_sims: np.ndarray,
    set_of_row: np.ndarray,
    neg_sets: list[np.ndarray],
    self_in_sets: bool,
    block_elements: int = BLOCK_ELEMENTS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AP, n_pos and n_total of each query unit (a row, or a row and one of its labels).

    ``pos_unit[e]`` / ``pos_sims[e]`` list the positive entries (one per direction of each
    positive pair) and their cosine similarities. The negatives of a unit are
    ``neg_sets[set_of_row[its row]]``.
    """
    n_units = len(unit_rows)
    set_sizes = np.array([len(s) for s in neg_sets], dtype=np.int64)
    n_neg = set_sizes[set_of_row[unit_rows]] - int(self_in_sets)
    n_pos = np.bincount(pos_unit, minlength=n_units)
    ap = np.full(n_units, np.nan)
    if len(pos_unit) == 0:
        return ap, n_pos, n_pos + n_neg

    pos_keys = _sim_keys(pos_sims)
    order = np.lexsort((pos_keys, pos_unit))
    pos_unit, pos_keys = pos_unit[order], pos_keys[order]
    first_entry = np.r_[0, np.cumsum(n_pos)[:-1]]
    rank_among_pos = np.arange(len(pos_unit)) - first_entry[pos_unit] + 1
    neg_before = np.zeros(len(pos_unit), dtype=np.int64)

    queries = np.flatnonzero(n_pos > 0)
    with _single_threaded_blas():
        for set_id, set_units in _split_by(queries, set_of_row[unit_rows[queries]]):
            if len(neg_sets[set_id]) == 0:
                continue
            entries, negatives_before = _rank_against_set(
                xn,
                unit_rows[set_units],
                neg_sets[set_id],
                self_in_sets,
                block_elements,
                first_entry[set_units],
                n_pos[set_units],
                pos_keys,
            )
            neg_before[entries] = negatives_before

    precision = rank_among_pos / (rank_among_pos + neg_before)
    has_pos = n_pos > 0
    ap[has_pos] = (
        np.bincount(pos_unit, weights=precision, minlength=n_units)[has_pos] / n_pos[has_pos]
    )
    return ap, n_pos, n_pos + n_neg


def _split_by(items: np.ndarray, keys: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (key, items with that key) for each distinct key, items in input order."""
    order = np.argsort(keys, kind="stable")
    bounds = np.flatnonzero(np.r_[True, keys[order][1:] != keys[order][:-1], True])
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        yield int(keys[order[lo]]), items[order[lo:hi]]


def _rank_against_set(
    xn: np.ndarray,
    rows_of_units: np.ndarray,
    partners: np.ndarray,
    self_in_set: bool,
    block_elements: int,
    unit_first_entry: np.ndarray,
    unit_n_pos: np.ndarray,
    pos_keys: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Count, for each positive entry of the units, the negatives ranked above it.

    The units share the negative set ``partners``; their positive entries are the slices
    ``unit_first_entry[u] : + unit_n_pos[u]`` of ``pos_keys``. A negative is above a
    positive when its key is strictly smaller (ties go to the positive, as in copairs).
    Returns the entry indices and their counts.
    """
    rows, unit_slot = np.unique(rows_of_units, return_inverse=True)
    partner_xn = xn[partners]
    chunk = max(1, block_elements // len(partners))
    all_entries, all_counts = [], []
    for start in range(0, len(rows), chunk):
        block_rows = rows[start : start + chunk]
        keys = _sim_keys(xn[block_rows] @ partner_xn.T)
        if self_in_set:  # a query is never its own negative
            keys[np.arange(len(block_rows)), np.searchsorted(partners, block_rows)] = _EXCLUDED_KEY
        keys.sort(axis=1)
        # one searchsorted for the whole block: row r's keys are shifted by r * _ROW_OFFSET
        # (exact in float64: keys are multiples of 2**-24 below 8)
        in_block = (unit_slot >= start) & (unit_slot < start + chunk)
        n_pos = unit_n_pos[in_block]
        entries = np.repeat(unit_first_entry[in_block], n_pos) + _ranges(n_pos)
        entry_row = np.repeat(unit_slot[in_block] - start, n_pos)
        offsets = _ROW_OFFSET * np.arange(len(block_rows))
        flat = (keys.astype(np.float64) + offsets[:, None]).ravel()
        targets = pos_keys[entries].astype(np.float64) + offsets[entry_row]
        found = np.searchsorted(flat, targets, side="left")
        all_entries.append(entries)
        all_counts.append(found - entry_row * len(partners))
    return np.concatenate(all_entries), np.concatenate(all_counts)


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(k)`` for each k in ``lengths``."""
    total = int(lengths.sum())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total) - starts


def expected_average_precision(n_pos: np.ndarray, n_total: np.ndarray) -> np.ndarray:
    """Expected AP of a random ranking (copairs' finite-sample formula), vectorized."""
    n_pos = np.asarray(n_pos, dtype=np.int64)
    n_total = np.asarray(n_total, dtype=np.int64)
    harmonic = np.r_[0.0, np.cumsum(1.0 / np.arange(1, max(int(n_total.max(initial=1)), 1) + 1))]
    h = harmonic[n_total]
    with np.errstate(divide="ignore", invalid="ignore"):
        mu0 = (1.0 / n_total) * (((n_pos - 1.0) / (n_total - 1.0)) * (n_total - h) + h)
    mu0 = np.where(n_pos == 0, 0.0, mu0)
    mu0 = np.where(n_pos == n_total, 1.0, mu0)
    return np.where(n_total == 1, (n_pos == 1).astype(float), mu0)


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
    _check_rules(pos_sameby, pos_diffby, "pos")
    _check_rules(neg_sameby, neg_diffby, "neg")
    xn = _aligned_unit_profiles(meta, feats)
    codes = _column_codes(meta, [*pos_sameby, *pos_diffby, *neg_sameby, *neg_diffby])
    n = len(meta)
    pos_group = _group_ids([codes[c] for c in pos_sameby], n)
    first, second = _pairs_within_groups(pos_group)
    keep = _differ_in_all(codes, pos_diffby, first, second)
    first, second = first[keep], second[keep]
    set_of_row, neg_sets = _negative_sets(
        codes, neg_sameby, neg_diffby, n, block_elements=batch_size
    )
    _check_pairs(len(first), set_of_row, neg_sets, self_in_sets=not neg_diffby)
    pair_sims = _pair_similarities(xn, first, second, batch_size)
    ap, n_pos, n_total = _unit_average_precision(
        xn,
        np.arange(n),
        np.r_[first, second],
        np.r_[pair_sims, pair_sims],
        set_of_row,
        neg_sets,
        self_in_sets=not neg_diffby,
        block_elements=batch_size,
    )
    return _result_table(meta, ap, n_pos, n_total)


def _check_pairs(n_pos_pairs: int, set_of_row, neg_sets, self_in_sets: bool) -> None:
    if n_pos_pairs == 0:
        raise NoPairsError("no positive pairs: check pos_sameby / pos_diffby")
    set_sizes = np.array([len(s) for s in neg_sets])
    if (set_sizes[set_of_row] - int(self_in_sets)).sum() == 0:
        raise NoPairsError("no negative pairs: check neg_sameby / neg_diffby")


def _aligned_unit_profiles(meta: pd.DataFrame, feats) -> np.ndarray:
    if len(meta) != len(feats):
        raise ProfileTableError(
            f"metadata has {len(meta)} rows but features have {len(feats)}: they must align"
        )
    return unit_profiles(feats)


def _label_lists(values: pd.Series, column: str) -> list[tuple]:
    """Labels of each row as a tuple of distinct values; '|'-separated strings are split."""
    lists = []
    for value in values:
        if isinstance(value, str):
            items = [item for item in value.split("|") if item]
        elif value is None or (np.ndim(value) == 0 and pd.isna(value)):
            raise ProfileTableError(f"metadata column {column!r} has missing values")
        else:
            items = list(value)
        lists.append(tuple(dict.fromkeys(items)))
    return lists


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
    _check_rules(pos_sameby, pos_diffby, "pos")
    _check_rules(neg_sameby, neg_diffby, "neg")
    if multilabel_col not in pos_sameby or multilabel_col not in neg_diffby:
        raise ValueError(f"{multilabel_col!r} must be in pos_sameby and in neg_diffby")
    if multilabel_col not in meta.columns:
        raise ProfileTableError(f"metadata has no column {multilabel_col!r}")
    xn = _aligned_unit_profiles(meta, feats)
    n = len(meta)
    pos_same = [c for c in pos_sameby if c != multilabel_col]
    neg_diff = [c for c in neg_diffby if c != multilabel_col]
    codes = _column_codes(meta, [*pos_same, *pos_diffby, *neg_sameby, *neg_diff])

    label_lists = _label_lists(meta[multilabel_col], multilabel_col)
    lengths = np.array([len(labels) for labels in label_lists], dtype=np.int64)
    entry_row = np.repeat(np.arange(n), lengths)
    entry_label, label_names = pd.factorize(
        pd.Series([label for labels in label_lists for label in labels], dtype=object),
        sort=True,
    )
    label_ptr = np.r_[0, np.cumsum(lengths)]

    entry_codes = [entry_label, *(codes[c][entry_row] for c in pos_same)]
    entry_group = _group_ids(entry_codes, len(entry_row))
    first, second = _pairs_within_groups(entry_group)
    row_a, row_b = entry_row[first], entry_row[second]
    keep = _differ_in_all(codes, pos_diffby, row_a, row_b)
    row_a, row_b, pair_label = row_a[keep], row_b[keep], entry_label[first][keep]

    set_of_row, neg_sets = _negative_sets(
        codes, neg_sameby, neg_diff, n, labels=(label_ptr, entry_label), block_elements=batch_size
    )
    _check_pairs(len(row_a), set_of_row, neg_sets, self_in_sets=False)
    unit_key = np.r_[row_a, row_b] * len(label_names) + np.r_[pair_label, pair_label]
    units, pos_unit = np.unique(unit_key, return_inverse=True)
    unit_rows = units // len(label_names)
    pair_sims = _pair_similarities(xn, row_a, row_b, batch_size)
    ap, n_pos, n_total = _unit_average_precision(
        xn,
        unit_rows,
        pos_unit.ravel(),
        np.r_[pair_sims, pair_sims],
        set_of_row,
        neg_sets,
        self_in_sets=False,
        block_elements=batch_size,
    )
    table = meta.drop(columns=multilabel_col).iloc[unit_rows]
    table[multilabel_col] = np.asarray(label_names, dtype=object)[units % len(label_names)]
    return _result_table(table, ap, n_pos, n_total)


# --- significance -------------------------------------------------------------------------


def random_average_precisions(n_pos: int, n_total: int, null_size: int, seed: int) -> np.ndarray:
    """AP of ``null_size`` random rankings of ``n_pos`` positives among ``n_total`` (float32).

    Draws exactly the random numbers copairs draws for the same seed: each ranking is a
    row-wise permutation of ``0..n_total-1`` whose first ``n_pos`` entries are the ranks
    of the positives.
    """
    rng = np.random.default_rng(seed)
    rank_dtype = np.uint16 if n_total < 2**16 else np.uint32
    rankings = np.tile(np.arange(n_total, dtype=rank_dtype), (null_size, 1))
    rng.permuted(rankings, axis=1, out=rankings)
    positive_ranks = np.sort(rankings[:, :n_pos], axis=1)
    precisions = np.arange(1, n_pos + 1, dtype=np.float32) / (positive_ranks + 1)
    return (precisions.sum(axis=1) / n_pos).astype(np.float32)


def null_distributions(configurations: np.ndarray, null_size: int, seed: int) -> np.ndarray:
    """One null AP distribution per (n_pos, n_total) row of ``configurations``.

    The i-th configuration is drawn with the i-th seed of ``default_rng(seed)`` (copairs'
    scheme), so pass the configurations sorted and unique, as ``mean_average_precision``
    does, to get copairs' nulls.
    """
    seeds = np.random.default_rng(seed).integers(8096, size=len(configurations))
    nulls = np.empty((len(configurations), null_size), dtype=np.float32)
    for i, ((n_pos, n_total), conf_seed) in enumerate(zip(configurations, seeds, strict=True)):
        nulls[i] = random_average_precisions(int(n_pos), int(n_total), null_size, conf_seed)
    return nulls


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (statsmodels ``fdr_bh``)."""
    p_values = np.asarray(p_values, dtype=np.float64)
    if p_values.size == 0:
        return p_values.copy()
    order = np.argsort(p_values)
    ranked = p_values[order] / (np.arange(1, p_values.size + 1) / p_values.size)
    adjusted_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty_like(adjusted_sorted)
    adjusted[order] = np.minimum(adjusted_sorted, 1.0)
    return adjusted


def mean_average_precision(
    ap_scores: pd.DataFrame,
    sameby: str | Sequence[str],
    null_size: int,
    threshold: float,
    seed: int,
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

    Returns
    -------
    pandas.DataFrame
        ``sameby`` columns, ``mean_average_precision``, ``mean_normalized_average_precision``
        (when the input has normalized AP), ``p_value``, ``corrected_p_value``, ``below_p``,
        ``below_corrected_p``; one row per group, sorted by group.

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
    nulls = null_distributions(configurations, null_size, seed)

    grouped = scores.groupby(sameby, observed=True, sort=True)
    value_columns = [AP] + ([NORMALIZED_AP] if NORMALIZED_AP in scores.columns else [])
    result = grouped[value_columns].mean().reset_index()
    result = result.rename(columns={AP: MAP, NORMALIZED_AP: NORMALIZED_MAP})

    group_of_row = grouped.ngroup().to_numpy()
    by_group = np.argsort(group_of_row, kind="stable")
    bounds = np.searchsorted(group_of_row[by_group], np.arange(len(result) + 1))
    sorted_group_nulls: dict[tuple, np.ndarray] = {}
    p_values = np.empty(len(result))
    for i in range(len(result)):
        member_confs = tuple(conf_of_row[by_group[bounds[i] : bounds[i + 1]]])
        group_null = sorted_group_nulls.get(member_confs)
        if group_null is None:
            group_null = np.sort(nulls[list(member_confs)].mean(axis=0))
            sorted_group_nulls[member_confs] = group_null
        # copairs compares in float32 (the mAP reaches it as a Python float, a weak scalar)
        map_score = np.float32(result[MAP].iat[i])
        n_above = null_size - np.searchsorted(group_null, map_score, side="right")
        p_values[i] = (n_above + 1) / (null_size + 1)
    result[P_VALUE] = p_values
    result[CORRECTED_P] = benjamini_hochberg(p_values)
    result[BELOW_P] = result[P_VALUE] < threshold
    result[BELOW_CORRECTED_P] = result[CORRECTED_P] < threshold
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

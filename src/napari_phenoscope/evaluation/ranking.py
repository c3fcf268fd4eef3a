"""Ranks for ``metrics``: cosine similarities, per-query ranks and the AP of each query.

Queries sharing a negative set are ranked against it together: their similarities to the
set come from one blockwise matrix product (single BLAS thread), and the rank of each
positive is a ``searchsorted`` into the sorted keys of its query. Keys are copairs' float32
``1 - sim``; ties go to the positives (copairs' stable sort puts positives first).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pandas as pd

from napari_phenoscope.errors import ProfileTableError

#: Elements of one block of the similarity matrix (float64): bounds memory to ~32 MB.
BLOCK_ELEMENTS = 1 << 22
#: Sort key given to a query's own column so that it is never counted as a negative.
_EXCLUDED_KEY = np.float32(4.0)
#: Row offset of the flattened sorted keys: keys lie in [0, 2] and _EXCLUDED_KEY is 4.
_ROW_OFFSET = 8.0


# --- profiles and similarities ------------------------------------------------------------


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


def aligned_unit_profiles(meta: pd.DataFrame, feats) -> np.ndarray:
    """:func:`unit_profiles` of ``feats``, after checking it has one row per ``meta`` row."""
    if len(meta) != len(feats):
        raise ProfileTableError(
            f"metadata has {len(meta)} rows but features have {len(feats)}: they must align"
        )
    return unit_profiles(feats)


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


def pair_similarities(
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


# --- ranks and AP -------------------------------------------------------------------------


def unit_average_precision(
    xn: np.ndarray,
    unit_rows: np.ndarray,
    pos_unit: np.ndarray,
    pos_sims: np.ndarray,
    set_of_row: np.ndarray,
    neg_sets: list[np.ndarray],
    group_of_row: np.ndarray,
    self_in_sets: bool,
    block_elements: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AP, n_pos and n_total of each query unit (a row, or a row and one of its labels).

    ``pos_unit[e]`` / ``pos_sims[e]`` list the positive entries (one per direction of each
    positive pair) and their cosine similarities. The negatives of a unit are
    ``neg_sets[set_of_row[its row]]``, a subset of the rows of its ``neg_sameby`` group
    (``group_of_row``).
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

    queries = np.flatnonzero((n_pos > 0) & (set_sizes[set_of_row[unit_rows]] > 0))
    with _single_threaded_blas():
        for group_id, group_units in _split_by(queries, group_of_row[unit_rows[queries]]):
            members = np.flatnonzero(group_of_row == group_id)
            unit_sets = set_of_row[unit_rows[group_units]]
            if _dense_sets(unit_sets, set_sizes, len(members)):
                # the sets cover most of the group: one product with the whole group, the
                # few non-negatives of each query masked, beats gathering every set
                entries, negatives_before = _rank_against_group(
                    xn,
                    unit_rows[group_units],
                    members,
                    neg_sets,
                    set_of_row,
                    block_elements,
                    first_entry[group_units],
                    n_pos[group_units],
                    pos_keys,
                )
                neg_before[entries] = negatives_before
                continue
            for set_id, set_units in _split_by(group_units, unit_sets):
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


def _dense_sets(unit_sets: np.ndarray, set_sizes: np.ndarray, group_size: int) -> bool:
    """Whether ranking against the whole group is cheaper than against each set.

    Per set, the set's profiles are gathered (memory-bound: counted 4 times a product
    element) and multiplied with its queries; per group, every query meets every member.
    """
    set_ids, queries_per_set = np.unique(unit_sets, return_counts=True)
    per_set = float((set_sizes[set_ids] * (4 + queries_per_set)).sum())
    return per_set > float(len(unit_sets)) * group_size


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

    def exclude(block_rows: np.ndarray, keys: np.ndarray) -> None:
        if self_in_set:  # a query is never its own negative
            keys[np.arange(len(block_rows)), np.searchsorted(partners, block_rows)] = _EXCLUDED_KEY

    counts = (unit_first_entry, unit_n_pos, pos_keys)
    return _count_in_blocks(xn, rows_of_units, xn[partners], exclude, block_elements, *counts)


def _rank_against_group(
    xn: np.ndarray,
    rows_of_units: np.ndarray,
    members: np.ndarray,
    neg_sets: list[np.ndarray],
    set_of_row: np.ndarray,
    block_elements: int,
    unit_first_entry: np.ndarray,
    unit_n_pos: np.ndarray,
    pos_keys: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_rank_against_set` for units whose sets are subsets of the group ``members``.

    Each query is compared with every member; the members outside its negative set (itself
    among them) get a key above every similarity, so they are never counted.
    """
    position = np.empty(len(xn), dtype=np.int64)
    position[members] = np.arange(len(members))
    outside = {}  # set id -> positions in ``members`` of the group rows not in the set
    for set_id in np.unique(set_of_row[rows_of_units]):
        inside = np.zeros(len(members), dtype=bool)
        inside[position[neg_sets[set_id]]] = True
        outside[int(set_id)] = np.flatnonzero(~inside)

    def exclude(block_rows: np.ndarray, keys: np.ndarray) -> None:
        excluded = [outside[int(s)] for s in set_of_row[block_rows]]
        lengths = np.array([len(e) for e in excluded], dtype=np.int64)
        rows = np.repeat(np.arange(len(block_rows)), lengths)
        keys[rows, np.concatenate(excluded)] = _EXCLUDED_KEY
        keys[np.arange(len(block_rows)), position[block_rows]] = _EXCLUDED_KEY

    member_xn = xn if len(members) == len(xn) else xn[members]
    counts = (unit_first_entry, unit_n_pos, pos_keys)
    return _count_in_blocks(xn, rows_of_units, member_xn, exclude, block_elements, *counts)


def _count_in_blocks(
    xn: np.ndarray,
    rows_of_units: np.ndarray,
    partner_xn: np.ndarray,
    exclude,
    block_elements: int,
    unit_first_entry: np.ndarray,
    unit_n_pos: np.ndarray,
    pos_keys: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Keys of the units' rows against ``partner_xn`` in blocks of rows, ``exclude(rows,
    keys)`` marking the partners that are not negatives; the counts of
    :func:`_count_keys_below` for every positive entry, and those entries."""
    rows, unit_slot = np.unique(rows_of_units, return_inverse=True)
    chunk = max(1, block_elements // len(partner_xn))
    all_entries, all_counts = [], []
    for start in range(0, len(rows), chunk):
        block_rows = rows[start : start + chunk]
        keys = _sim_keys(xn[block_rows] @ partner_xn.T)
        exclude(block_rows, keys)
        entries, counts = _count_keys_below(
            keys, unit_slot, start, unit_first_entry, unit_n_pos, pos_keys
        )
        all_entries.append(entries)
        all_counts.append(counts)
    return np.concatenate(all_entries), np.concatenate(all_counts)


def _count_keys_below(
    keys: np.ndarray,
    unit_slot: np.ndarray,
    start: int,
    unit_first_entry: np.ndarray,
    unit_n_pos: np.ndarray,
    pos_keys: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """For the positive entries of the block's rows, how many keys of their row are smaller.

    ``keys`` (block rows x partners) is sorted in place. Row ``r`` of the block is slot
    ``start + r``; the units of slot ``s`` are those with ``unit_slot == s``.
    """
    block_size, width = keys.shape
    keys.sort(axis=1)
    # one searchsorted for the whole block: row r's keys are shifted by r * _ROW_OFFSET
    # (exact in float64: keys are multiples of 2**-24 below 8)
    in_block = (unit_slot >= start) & (unit_slot < start + block_size)
    n_pos = unit_n_pos[in_block]
    entries = np.repeat(unit_first_entry[in_block], n_pos) + _ranges(n_pos)
    entry_row = np.repeat(unit_slot[in_block] - start, n_pos)
    offsets = _ROW_OFFSET * np.arange(block_size)
    flat = (keys.astype(np.float64) + offsets[:, None]).ravel()
    targets = pos_keys[entries].astype(np.float64) + offsets[entry_row]
    found = np.searchsorted(flat, targets, side="left")
    return entries, found - entry_row * width


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(k)`` for each k in ``lengths``."""
    total = int(lengths.sum())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total) - starts

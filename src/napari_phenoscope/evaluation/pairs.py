"""Pairs for ``metrics``: who is a positive and who is a negative of whom (copairs rules).

A positive pair shares every ``pos_sameby`` value and differs in every ``pos_diffby`` value;
likewise negatives. Pairs are unordered and never pair a profile with itself. Positive pairs
are listed explicitly; negatives are kept as sets shared by the rows with the same negative
"signature", so that each set is ranked against once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from napari_phenoscope.errors import ProfileTableError


class NoPairsError(ProfileTableError):
    """The pair rules leave no positive (or no negative) pair in the table."""


# --- rules and metadata -------------------------------------------------------------------


def check_rules(sameby: Sequence[str], diffby: Sequence[str], kind: str) -> None:
    """Reject a pair rule that is a bare string, empty, or not disjoint."""
    if isinstance(sameby, str) or isinstance(diffby, str):
        raise TypeError(f"{kind}_sameby and {kind}_diffby must be lists of column names")
    if not sameby and not diffby:
        raise ValueError(f"{kind}_sameby or {kind}_diffby must name at least one column")
    if set(sameby) & set(diffby):
        raise ValueError(f"{kind}_sameby and {kind}_diffby must be disjoint")


def column_codes(meta: pd.DataFrame, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Integer codes per column (equal values, equal codes); NaN is an error."""
    codes = {}
    for column in dict.fromkeys(columns):
        if column not in meta.columns:
            raise ProfileTableError(f"metadata has no column {column!r}")
        codes_of_column, _ = pd.factorize(meta[column])
        if (codes_of_column < 0).any():
            raise ProfileTableError(f"metadata column {column!r} has missing values")
        codes[column] = codes_of_column.astype(np.int64)
    return codes


def group_ids(code_arrays: Sequence[np.ndarray], n: int) -> np.ndarray:
    """One id per distinct combination of codes (all zeros when there are no columns)."""
    if not code_arrays:
        return np.zeros(n, dtype=np.int64)
    _, inverse = np.unique(np.stack(code_arrays, axis=1), axis=0, return_inverse=True)
    return inverse.ravel()


# --- positive pairs -----------------------------------------------------------------------


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


def positive_pairs(
    codes: dict[str, np.ndarray], pos_sameby: Sequence[str], pos_diffby: Sequence[str], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (first, second) of every positive pair of an ``n``-row table."""
    pos_group = group_ids([codes[c] for c in pos_sameby], n)
    first, second = _pairs_within_groups(pos_group)
    keep = _differ_in_all(codes, pos_diffby, first, second)
    return first[keep], second[keep]


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


def label_entries(values: pd.Series, column: str) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Expand a multilabel column into one entry per (row, label).

    Returns ``label_ptr`` (the entries of row i are ``label_ptr[i] : label_ptr[i + 1]``),
    ``entry_label`` (label code of each entry) and ``label_names`` (sorted distinct labels).
    """
    label_lists = _label_lists(values, column)
    lengths = np.array([len(labels) for labels in label_lists], dtype=np.int64)
    entry_label, label_names = pd.factorize(
        pd.Series([label for labels in label_lists for label in labels], dtype=object),
        sort=True,
    )
    return np.r_[0, np.cumsum(lengths)], entry_label, label_names


def multilabel_positive_pairs(
    codes: dict[str, np.ndarray],
    label_ptr: np.ndarray,
    entry_label: np.ndarray,
    pos_same: Sequence[str],
    pos_diffby: Sequence[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positive pairs through a shared label: rows (a, b) and the label code of each pair.

    ``pos_same`` are the ``pos_sameby`` columns other than the label column.
    """
    entry_row = np.repeat(np.arange(len(label_ptr) - 1), np.diff(label_ptr))
    entry_codes = [entry_label, *(codes[c][entry_row] for c in pos_same)]
    entry_group = group_ids(entry_codes, len(entry_row))
    first, second = _pairs_within_groups(entry_group)
    row_a, row_b = entry_row[first], entry_row[second]
    keep = _differ_in_all(codes, pos_diffby, row_a, row_b)
    return row_a[keep], row_b[keep], entry_label[first][keep]


# --- negative sets ------------------------------------------------------------------------


def negative_sets(
    codes: dict[str, np.ndarray],
    neg_sameby: Sequence[str],
    neg_diffby: Sequence[str],
    n: int,
    block_elements: int,
    labels: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Negative partners of every row, shared by rows with the same negative signature.

    Returns ``set_of_row`` (n,), ``sets`` (sorted row indices) and ``group_of_row`` (n,),
    the row's ``neg_sameby`` group, of which its set is a subset. A row's negatives are the
    rows of its ``neg_sameby`` group that differ in every ``neg_diffby`` column (and share
    no label, when ``labels`` = (label-row incidence as CSR ``indptr, label_ids``) is given).
    Rows with identical negative sets share one entry, so their similarities are computed
    against it in one matrix product. ``block_elements`` bounds the comparison blocks.
    """
    same = group_ids([codes[c] for c in neg_sameby], n)
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
    return set_of_signature[signature_of_row], sets, same


def check_pairs(n_pos_pairs: int, set_of_row, neg_sets, self_in_sets: bool) -> None:
    """Raise :class:`NoPairsError` when there is no positive or no negative pair."""
    if n_pos_pairs == 0:
        raise NoPairsError("no positive pairs: check pos_sameby / pos_diffby")
    set_sizes = np.array([len(s) for s in neg_sets])
    if (set_sizes[set_of_row] - int(self_in_sets)).sum() == 0:
        raise NoPairsError("no negative pairs: check neg_sameby / neg_diffby")

"""Nulls for ``metrics``: random-ranking APs, permutation p-values and BH correction.

One null distribution per (n_pos_pairs, n_total_pairs) configuration, drawn from copairs'
seed stream, so that p-values equal copairs' for the same seed (with an empty copairs cache).
"""

from __future__ import annotations

import numpy as np


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


def group_p_values(
    nulls: np.ndarray, conf_of_row: np.ndarray, group_of_row: np.ndarray, map_scores: np.ndarray
) -> np.ndarray:
    """Permutation p-value of each group's mAP against the mean of its members' nulls.

    ``nulls`` (configurations x null_size) are from :func:`null_distributions`; row r of the
    AP table has configuration ``conf_of_row[r]`` and group ``group_of_row[r]``;
    ``map_scores[g]`` is group g's mAP. p = (#{null > mAP} + 1) / (null_size + 1).
    """
    null_size = nulls.shape[1]
    by_group = np.argsort(group_of_row, kind="stable")
    bounds = np.searchsorted(group_of_row[by_group], np.arange(len(map_scores) + 1))
    sorted_group_nulls: dict[tuple, np.ndarray] = {}
    p_values = np.empty(len(map_scores))
    for i in range(len(map_scores)):
        member_confs = tuple(conf_of_row[by_group[bounds[i] : bounds[i + 1]]])
        group_null = sorted_group_nulls.get(member_confs)
        if group_null is None:
            group_null = np.sort(nulls[list(member_confs)].mean(axis=0))
            sorted_group_nulls[member_confs] = group_null
        # copairs compares in float32 (the mAP reaches it as a Python float, a weak scalar)
        map_score = np.float32(map_scores[i])
        n_above = null_size - np.searchsorted(group_null, map_score, side="right")
        p_values[i] = (n_above + 1) / (null_size + 1)
    return p_values


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

"""Nulls for ``metrics``: random-ranking APs, permutation p-values and BH correction.

One null distribution per (n_pos_pairs, n_total_pairs) configuration, seeded from copairs'
seed stream. Two ways to draw one random ranking:

* ``"copairs"``: a full permutation of the ``n_total`` ranks, exactly the numbers copairs
  draws, so that p-values equal copairs' for the same seed (with an empty copairs cache);
  it costs O(n_total) per ranking.
* ``"sampled"``: only the ``n_pos`` ranks of the positives, a uniform random subset of
  ``0..n_total-1`` drawn directly; O(n_pos log n_pos) per ranking whatever ``n_total``.
  The same distribution, other random numbers: p-values agree with copairs' within
  Monte-Carlo error.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

NullMethod = Literal["copairs", "sampled"]
NULL_METHODS = ("copairs", "sampled")
#: Ranks drawn (null_size x sum of n_total) above which ``null="auto"`` samples: about ten
#: seconds of permutations on a loaded 2-core machine.
COPAIRS_NULL_BUDGET = 2**28
#: Ranks held at once while sampling (bounds memory to ~128 MB of int64).
_SAMPLE_BLOCK = 1 << 24


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


def random_positive_ranks(
    n_pos: int, n_total: int, count: int, rng: np.random.Generator
) -> np.ndarray:
    """Sorted ranks of ``n_pos`` positives among ``n_total`` in ``count`` random rankings.

    Each row is a uniform random ``n_pos``-subset of ``0..n_total-1``, drawn without a
    permutation: ``n_pos`` ranks with replacement, then every repeated rank drawn again
    until none repeats. The procedure only ever compares ranks for equality, so it treats
    every rank alike and every subset is equally likely. Sparse draws (``n_pos`` at most a
    quarter of ``n_total``) repeat a rank with probability below 1/4 per round; denser ones
    take a permutation, which then costs O(n_pos).

    Returns
    -------
    numpy.ndarray
        (count, n_pos) int64, each row sorted ascending.
    """
    if 4 * n_pos > n_total:
        rankings = np.tile(np.arange(n_total, dtype=np.int64), (count, 1))
        rng.permuted(rankings, axis=1, out=rankings)
        return np.sort(rankings[:, :n_pos], axis=1)
    ranks = rng.integers(n_total, size=(count, n_pos))
    ranks.sort(axis=1)
    repeated = np.flatnonzero((ranks[:, 1:] == ranks[:, :-1]).any(axis=1))
    while repeated.size:
        rows = ranks[repeated]
        again = np.zeros(rows.shape, dtype=bool)
        again[:, 1:] = rows[:, 1:] == rows[:, :-1]
        rows[again] = rng.integers(n_total, size=int(again.sum()))
        rows.sort(axis=1)
        ranks[repeated] = rows
        repeated = repeated[(rows[:, 1:] == rows[:, :-1]).any(axis=1)]
    return ranks


def sampled_average_precisions(n_pos: int, n_total: int, null_size: int, seed: int) -> np.ndarray:
    """AP of ``null_size`` random rankings, positives' ranks drawn directly (float32).

    The distribution of :func:`random_average_precisions` (copairs'), at a cost that does
    not grow with ``n_total``; see :func:`random_positive_ranks`.
    """
    rng = np.random.default_rng(seed)
    aps = np.empty(null_size, dtype=np.float32)
    step = max(1, _SAMPLE_BLOCK // max(n_pos, 1))
    precision_numerators = np.arange(1, n_pos + 1, dtype=np.float32)
    for start in range(0, null_size, step):
        count = min(step, null_size - start)
        ranks = random_positive_ranks(n_pos, n_total, count, rng)
        precisions = precision_numerators / (ranks + 1).astype(np.float32)
        aps[start : start + count] = precisions.sum(axis=1) / n_pos
    return aps


def copairs_null_cost(configurations: np.ndarray, null_size: int) -> int:
    """Ranks the ``"copairs"`` null draws for ``configurations``: null_size x sum n_total."""
    return (
        int(null_size) * int(np.asarray(configurations)[:, 1].sum()) if len(configurations) else 0
    )


def null_distributions(
    configurations: np.ndarray, null_size: int, seed: int, method: NullMethod = "copairs"
) -> np.ndarray:
    """One null AP distribution per (n_pos, n_total) row of ``configurations``.

    The i-th configuration is drawn with the i-th seed of ``default_rng(seed)`` (copairs'
    scheme), so pass the configurations sorted and unique, as ``mean_average_precision``
    does, to get copairs' nulls. ``method`` is ``"copairs"`` (copairs' very numbers) or
    ``"sampled"`` (the same distributions, drawn at a cost independent of n_total).
    """
    if method not in NULL_METHODS:
        raise ValueError(f"null method must be one of {NULL_METHODS}, got {method!r}")
    draw = random_average_precisions if method == "copairs" else sampled_average_precisions
    seeds = np.random.default_rng(seed).integers(8096, size=len(configurations))
    nulls = np.empty((len(configurations), null_size), dtype=np.float32)
    for i, ((n_pos, n_total), conf_seed) in enumerate(zip(configurations, seeds, strict=True)):
        nulls[i] = draw(int(n_pos), int(n_total), null_size, conf_seed)
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

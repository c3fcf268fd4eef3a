"""The sampled null against copairs' permutation null and against exact enumeration."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import napari_phenoscope.evaluation.precision as metrics
from napari_phenoscope.evaluation.nulls import random_positive_ranks

copairs_compute = pytest.importorskip("copairs.compute")
copairs_map = pytest.importorskip("copairs.map")

N_DRAWS = 20_000
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


def assert_same_distribution(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Our empirical CDF at each of copairs' quantiles is that quantile, within 4.5
    standard errors of the difference of two empirical CDFs (AP has atoms: the CDF is
    checked on both sides of each quantile value)."""
    ours = np.sort(ours)
    for q in QUANTILES:
        value = np.quantile(theirs, q, method="inverted_cdf")
        below = np.searchsorted(ours, value, side="left") / len(ours)
        at_or_below = np.searchsorted(ours, value, side="right") / len(ours)
        tolerance = 4.5 * np.sqrt(q * (1 - q) * (1 / len(ours) + 1 / len(theirs)))
        assert below - tolerance <= q <= at_or_below + tolerance, (q, below, at_or_below)
    assert stats.ks_2samp(ours, theirs).pvalue > 1e-3


@pytest.mark.parametrize(
    ("n_pos", "n_total"),
    [(1, 7), (3, 67), (5, 2000), (20, 500), (150, 400), (399, 400)],
)
def test_sampled_null_quantiles_match_copairs(n_pos, n_total):
    """Sparse (redrawn repeats) and dense (permutation) paths; other seeds than copairs'."""
    ours = metrics.sampled_average_precisions(n_pos, n_total, N_DRAWS, seed=11)
    theirs = copairs_compute.random_ap(N_DRAWS, n_pos, n_total, 12)
    assert ours.dtype == np.float32
    assert_same_distribution(ours, theirs)
    # and its mean is the exact expectation of a random ranking's AP, within 4.5 SE
    expected = metrics.expected_average_precision(np.array([n_pos]), np.array([n_total]))[0]
    assert abs(ours.mean() - expected) <= 4.5 * ours.std() / np.sqrt(N_DRAWS) + 1e-7


def test_sampled_ranks_are_uniform_subsets():
    """Exact oracle: every 3-subset of 0..11 equally likely (chi-square), no repeats."""
    ranks = random_positive_ranks(3, 12, 60_000, np.random.default_rng(5))
    assert (np.diff(ranks, axis=1) > 0).all() and ranks.min() >= 0 and ranks.max() < 12
    subsets = {s: i for i, s in enumerate(itertools.combinations(range(12), 3))}
    counts = np.bincount([subsets[tuple(r)] for r in ranks], minlength=len(subsets))
    assert stats.chisquare(counts).pvalue > 1e-3


def test_sampled_null_does_not_grow_with_n_total():
    """Two million candidates, a few positives: the 2000 rankings (copairs: 4e9 ranks) are
    never materialised."""
    aps = metrics.sampled_average_precisions(4, 2_000_000, 2000, seed=0)
    expected = metrics.expected_average_precision(np.array([4]), np.array([2_000_000]))[0]
    assert aps.shape == (2000,) and np.isfinite(aps).all()
    assert abs(aps.mean() - expected) <= 4.5 * aps.std() / np.sqrt(len(aps))


def replicate_vs_all(seed: int, n: int = 400):
    rng = np.random.default_rng(seed)
    meta = pd.DataFrame(
        {"pert": rng.integers(0, 60, n).astype(str), "plate": rng.integers(0, 4, n)}
    )
    signal = rng.normal(size=(60, 16)) * rng.uniform(0, 1.5, 60)[:, None]
    feats = signal[meta["pert"].astype(int)] + rng.normal(size=(n, 16))
    return metrics.average_precision(meta, feats, ["pert"], ["plate"], [], ["pert"])


def test_mean_average_precision_null_option_and_column(tmp_path):
    ap = replicate_vs_all(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = copairs_map.mean_average_precision(
            ap, ["pert"], 2000, 0.05, 3, progress_bar=False, cache_dir=tmp_path
        )
    exact = metrics.mean_average_precision(ap, ["pert"], 2000, 0.05, 3, null="copairs")
    sampled = metrics.mean_average_precision(ap, ["pert"], 2000, 0.05, 3, null="sampled")
    auto = metrics.mean_average_precision(ap, ["pert"], 2000, 0.05, 3)
    assert set(exact["null_method"]) == {"copairs"} and set(sampled["null_method"]) == {"sampled"}
    np.testing.assert_array_equal(exact["p_value"], theirs["p_value"])
    pd.testing.assert_frame_equal(auto, exact)  # small: auto keeps copairs' numbers
    np.testing.assert_array_equal(
        sampled["mean_average_precision"], theirs["mean_average_precision"]
    )
    # p-values of 2000 draws: within 4.5 binomial standard errors of copairs'
    p = theirs["p_value"].to_numpy()
    assert (np.abs(sampled["p_value"] - p) <= 4.5 * np.sqrt(p * (1 - p) / 2000) + 2e-3).all()


def test_auto_samples_when_permutations_cost_too_much():
    configurations = np.array([[3, 100_000], [4, 100_000]])
    assert metrics.select_null_method(configurations, 10_000, "auto") == "sampled"
    assert metrics.select_null_method(configurations, 100, "auto") == "copairs"
    assert metrics.select_null_method(configurations, 10_000, "copairs") == "copairs"
    with pytest.raises(ValueError, match="null must be"):
        metrics.select_null_method(configurations, 100, "exact")

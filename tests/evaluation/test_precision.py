"""AP, mAP and p-values against copairs (the oracle) on randomized and edge-case tables."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import napari_phenoscope.evaluation.precision as metrics
from napari_phenoscope.errors import ProfileTableError

copairs_map = pytest.importorskip("copairs.map")
copairs_compute = pytest.importorskip("copairs.compute")
from copairs.map import multilabel as copairs_multilabel  # noqa: E402

RULE_SETS = [
    # (pos_sameby, pos_diffby, neg_sameby, neg_diffby)
    (["c"], [], [], ["c"]),
    (["c"], ["p"], ["p"], ["c"]),
    (["c"], [], ["p"], ["c", "b"]),
    (["c"], [], [], ["b"]),  # pairs both positive and negative
    (["p"], ["c"], [], ["p"]),
    (["c", "b"], [], ["p"], []),  # negatives: everything on the plate but itself
]


def random_table(seed: int, n: int = 64, d: int = 8) -> tuple[pd.DataFrame, np.ndarray]:
    """Metadata with groups of varied sizes and features with many exact ties."""
    rng = np.random.default_rng(seed)
    meta = pd.DataFrame(
        {
            "c": rng.integers(0, n // 4, n).astype(str),
            "p": rng.integers(0, 3, n),
            "b": rng.integers(0, 2, n),
        }
    )
    feats = rng.normal(size=(n, d))
    feats[rng.integers(0, n, 6)] = feats[rng.integers(0, n, 6)]  # duplicated profiles
    return meta, np.round(feats, 1)  # coarse values: equal similarities happen


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def copairs_ap(meta, feats, *rules):
    return copairs_map.average_precision(meta, feats, *rules, progress_bar=False)


def copairs_mean_ap(ap, sameby, null_size, seed, tmp_path):
    # a fresh cache: copairs' nulls depend on what its cache already holds
    cache = tmp_path / f"cache{seed}_{null_size}_{len(ap)}"
    return copairs_map.mean_average_precision(
        ap, sameby, null_size, 0.05, seed, progress_bar=False, cache_dir=cache
    )


def assert_ap_equal(theirs: pd.DataFrame, ours: pd.DataFrame) -> None:
    assert len(theirs) == len(ours)
    for column in ("n_pos_pairs", "n_total_pairs"):
        np.testing.assert_array_equal(theirs[column].to_numpy(), ours[column].to_numpy())
    for column in ("average_precision", "normalized_average_precision"):
        np.testing.assert_allclose(
            ours[column].to_numpy(float), theirs[column].to_numpy(float), atol=1e-9, rtol=0
        )


@pytest.mark.parametrize("rules", RULE_SETS)
@pytest.mark.parametrize("seed", range(6))
def test_average_precision_equals_copairs(seed, rules):
    meta, feats = random_table(seed)
    ours = metrics.average_precision(meta, feats, *rules)
    assert_ap_equal(copairs_ap(meta, feats, *rules), ours)
    pd.testing.assert_frame_equal(ours[meta.columns], meta)


@pytest.mark.parametrize("seed", range(4))
def test_mean_average_precision_and_p_values_equal_copairs(seed, tmp_path):
    meta, feats = random_table(seed, n=80)
    rules = RULE_SETS[seed % len(RULE_SETS)]
    ap = metrics.average_precision(meta, feats, *rules)
    theirs = copairs_mean_ap(copairs_ap(meta, feats, *rules), [rules[0][0]], 300, seed, tmp_path)
    ours = metrics.mean_average_precision(ap, [rules[0][0]], 300, 0.05, seed)
    assert list(ours[rules[0][0]]) == list(theirs[rules[0][0]])
    for column in ("mean_average_precision", "mean_normalized_average_precision", "p_value"):
        np.testing.assert_allclose(ours[column], theirs[column], atol=1e-9, rtol=0)
    np.testing.assert_allclose(ours["corrected_p_value"], theirs["corrected_p_value"], atol=1e-12)
    for column in ("below_p", "below_corrected_p"):
        assert (ours[column].to_numpy() == theirs[column].to_numpy()).all()


def test_null_distributions_equal_copairs(tmp_path):
    confs = np.array([[1, 5], [2, 40], [3, 3], [4, 300]])
    theirs = copairs_compute.get_null_dists(confs, 500, 7, cache_dir=tmp_path, progress_bar=False)
    np.testing.assert_array_equal(metrics.null_distributions(confs, 500, 7), theirs)


@pytest.mark.parametrize("seed", range(4))
def test_multilabel_equals_copairs(seed):
    rng = np.random.default_rng(seed)
    n = 48
    genes = list("ABCDEFG")
    labels = [list(rng.choice(genes, size=rng.integers(1, 3), replace=False)) for _ in range(n)]
    meta = pd.DataFrame(
        {"t": labels, "m": rng.integers(0, 2, n), "s": rng.integers(0, 20, n).astype(str)}
    )
    feats = np.round(rng.normal(size=(n, 6)), 1)
    for rules in [(["t"], ["s"], [], ["t"]), (["t"], ["m"], [], ["t", "m"])]:
        theirs = copairs_multilabel.average_precision(
            meta, feats, *rules, multilabel_col="t", progress_bar=False
        ).reset_index(drop=True)
        ours = metrics.average_precision_multilabel(meta, feats, *rules, multilabel_col="t")
        assert list(ours["t"]) == list(theirs["t"])
        assert list(ours["s"]) == list(theirs["s"])
        assert_ap_equal(theirs, ours)
    # '|'-separated strings are the same labels as lists
    joined = meta.assign(t=["|".join(x) for x in labels])
    again = metrics.average_precision_multilabel(joined, feats, *rules, multilabel_col="t")
    pd.testing.assert_frame_equal(again, ours)


def test_ties_go_to_the_positive_and_match_copairs():
    # query 0: positive 1 and negative 2 are the same vector -> tied; positive first
    feats = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.2]])
    meta = pd.DataFrame({"c": ["x", "x", "y", "z", "x"]})
    ours = metrics.average_precision(meta, feats, ["c"], [], [], ["c"])
    assert_ap_equal(copairs_ap(meta, feats, ["c"], [], [], ["c"]), ours)
    # query 0 ranks: 4 (pos, cos .98), then 1 (pos) tied with 2 (neg), then 3 (neg)
    assert ours.loc[0, "average_precision"] == pytest.approx(1.0)
    assert ours.loc[0, "n_pos_pairs"] == 2 and ours.loc[0, "n_total_pairs"] == 4


def test_one_positive_and_no_positive_queries():
    rng = np.random.default_rng(3)
    meta = pd.DataFrame({"c": ["a", "a", "b", "c", "d", "e"]})
    feats = rng.normal(size=(6, 5))
    ours = metrics.average_precision(meta, feats, ["c"], [], [], ["c"])
    assert_ap_equal(copairs_ap(meta, feats, ["c"], [], [], ["c"]), ours)
    assert (ours["n_pos_pairs"] == [1, 1, 0, 0, 0, 0]).all()
    assert ours["average_precision"].iloc[2:].isna().all()  # kept, as copairs keeps them
    result = metrics.mean_average_precision(ours, ["c"], 100, 0.05, 0)
    assert list(result["c"]) == ["a"]  # queries without positives are dropped


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("rules", RULE_SETS)
def test_ranking_against_group_or_set_equals_copairs(rules, dense, monkeypatch):
    """Both ways of ranking a negative set (the whole group masked, or the set gathered)."""
    from napari_phenoscope.evaluation import ranking as _ranking

    monkeypatch.setattr(_ranking, "_dense_sets", lambda *args: dense)
    meta, feats = random_table(21, n=80)
    ours = metrics.average_precision(meta, feats, *rules, batch_size=200)
    assert_ap_equal(copairs_ap(meta, feats, *rules), ours)


def test_block_size_does_not_change_results():
    meta, feats = random_table(11, n=90)
    rules = RULE_SETS[2]
    big = metrics.average_precision(meta, feats, *rules)
    small = metrics.average_precision(meta, feats, *rules, batch_size=7)
    pd.testing.assert_frame_equal(big, small)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m, f: (m, np.where(np.arange(f.size).reshape(f.shape) == 9, np.nan, f)), "NaN"),
        (lambda m, f: (m, np.where(np.arange(len(f))[:, None] == 2, 0.0, f)), "all zeros"),
        (lambda m, f: (m.assign(c=m["c"].where(m.index != 4)), f), "'c' has missing"),
        (lambda m, f: (m.drop(columns="p"), f), "no column 'p'"),
        (lambda m, f: (m, f[:-1]), "must align"),
        (lambda m, f: (m.assign(c=[str(i) for i in range(len(m))]), f), "no positive pairs"),
    ],
)
def test_bad_input_raises_one_clear_error(change, message):
    meta, feats = change(*random_table(1))
    with pytest.raises(ProfileTableError, match=message):
        metrics.average_precision(meta, feats, ["c"], [], ["p"], ["c"])


def test_benjamini_hochberg_equals_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = np.random.default_rng(0).uniform(size=200) ** 3
    p[:20] = p[20:40]  # ties
    expected = multitest.multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(metrics.benjamini_hochberg(p), expected, rtol=0, atol=1e-15)


def test_fraction_retrieved_counts_corrected_p_below_threshold():
    table = pd.DataFrame({"corrected_p_value": [0.01, 0.049, 0.05, 0.2]})
    assert metrics.fraction_retrieved(table) == 0.5
    assert metrics.fraction_retrieved(table, threshold=0.1) == 0.75


def test_rank_by_similarity_orders_by_cosine():
    rng = np.random.default_rng(5)
    feats = rng.normal(size=(200, 16))
    table = pd.DataFrame(feats, columns=[f"f{i}" for i in range(16)])
    table.insert(0, "Metadata_Well", [f"W{i}" for i in range(200)])
    query = rng.normal(size=16)
    ranked = metrics.rank_by_similarity(query, table)
    cosine = feats @ query / np.linalg.norm(feats, axis=1) / np.linalg.norm(query)
    assert list(ranked["Metadata_Well"]) == [f"W{i}" for i in np.argsort(-cosine)]
    np.testing.assert_allclose(ranked["similarity"], np.sort(cosine)[::-1], atol=1e-6)
    assert list(ranked["rank"]) == list(range(1, 201))
    with pytest.raises(ProfileTableError, match="16 feature columns"):
        metrics.rank_by_similarity(query[:3], table)

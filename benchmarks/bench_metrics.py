"""Time copairs against napari-phenoscope on AP + mAP + p-values (replicate retrieval).

The table mimics CPJUMP1 replicate retrieval: 384-well plates with 64 negative-control wells
and 320 perturbations per plate, each perturbation on 4 replicate plates; a perturbation's
replicates are the positives, the negative controls of the query's plate the negatives
(copairs' reference-index recipe). Both libraries get the same table, the same rules, the
same null size and seed; the script checks that the results agree and prints the time
ratio copairs / ours for each size, in one run.

    python benchmarks/bench_metrics.py [--sizes 2000 10000 40000] [--null-size 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

import napari_phenoscope.evaluation.map as metrics

WELLS_PER_PLATE = 384
NEGCON_PER_PLATE = 64
REPLICATE_PLATES = 4
RULES = {
    "pos_sameby": ["Metadata_broad_sample", "Metadata_reference_index"],
    "pos_diffby": [],
    "neg_sameby": ["Metadata_Plate"],
    "neg_diffby": ["Metadata_broad_sample", "Metadata_reference_index"],
}


def replicate_table(n_profiles: int, n_features: int, seed: int):
    """A CPJUMP1-like well-level table: metadata and features (perturbation signal + noise)."""
    rng = np.random.default_rng(seed)
    n_plates = max(REPLICATE_PLATES, round(n_profiles / WELLS_PER_PLATE))
    treated = WELLS_PER_PLATE - NEGCON_PER_PLATE
    rows = []
    for plate in range(n_plates):
        layout = plate // REPLICATE_PLATES
        samples = [f"BRD-{layout:03d}-{k:03d}" for k in range(treated)]
        samples += ["DMSO"] * NEGCON_PER_PLATE
        for well, sample in enumerate(samples):
            rows.append((f"P{plate:03d}", well, sample))
    meta = pd.DataFrame(rows, columns=["Metadata_Plate", "Metadata_Well", "Metadata_broad_sample"])
    meta = meta.iloc[:n_profiles].reset_index(drop=True)
    negcon = (meta["Metadata_broad_sample"] == "DMSO").to_numpy()
    meta["Metadata_reference_index"] = np.where(negcon, np.arange(len(meta)), -1)
    codes, _ = pd.factorize(meta["Metadata_broad_sample"])
    signal = (
        rng.normal(size=(codes.max() + 1, n_features))
        * rng.uniform(0, 0.8, codes.max() + 1)[:, None]
    )
    feats = signal[codes] * (~negcon)[:, None] + rng.normal(size=(len(meta), n_features))
    return meta, feats


def run_ours(meta, feats, null_size, seed):
    ap = metrics.average_precision(meta, feats, **RULES)
    return metrics.mean_average_precision(ap, ["Metadata_broad_sample"], null_size, 0.05, seed)


def run_copairs(meta, feats, null_size, seed):
    from copairs.map import average_precision, mean_average_precision

    ap = average_precision(meta, feats, **RULES, progress_bar=False)
    with tempfile.TemporaryDirectory() as cache:  # an empty cache: copairs' fresh nulls
        return mean_average_precision(
            ap,
            ["Metadata_broad_sample"],
            null_size,
            0.05,
            seed,
            progress_bar=False,
            cache_dir=cache,
        )


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def peak_memory(function, *args) -> float:
    """Peak Python-allocated memory (numpy included) of one call, in MiB; a separate run,
    because tracing slows allocation-heavy code several-fold."""
    tracemalloc.start()
    function(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def time_rank_by_similarity(n_rows: int, n_features: int, seed: int) -> float:
    """Median seconds of one GUI ranking of ``n_rows`` profiles (5 repeats)."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        rng.normal(size=(n_rows, n_features)).astype(np.float32),
        columns=[f"feature_{i}" for i in range(n_features)],
    )
    table.insert(0, "Metadata_Well", np.arange(n_rows))
    query = rng.normal(size=n_features)
    times = [timed(metrics.rank_by_similarity, query, table)[1] for _ in range(5)]
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000, 40000])
    parser.add_argument("--features", type=int, default=384)
    parser.add_argument("--null-size", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(f"features={args.features} null_size={args.null_size} seed={args.seed}")
    header = f"{'profiles':>9} {'copairs s':>10} {'ours s':>8} {'ratio':>7}"
    print(f"{header} {'peak MiB copairs/ours':>22} {'max|dmAP|':>10} {'max|dp|':>8}")
    for size in args.sizes:
        meta, feats = replicate_table(size, args.features, args.seed)
        call = (meta, feats, args.null_size, args.seed)
        theirs, t_copairs = timed(run_copairs, *call)
        ours, t_ours = timed(run_ours, *call)
        memory = f"{peak_memory(run_copairs, *call):.0f}/{peak_memory(run_ours, *call):.0f}"
        d_map = np.abs(theirs["mean_average_precision"] - ours["mean_average_precision"]).max()
        d_p = np.abs(theirs["p_value"] - ours["p_value"]).max()
        print(
            f"{size:>9} {t_copairs:>10.2f} {t_ours:>8.2f} {t_copairs / t_ours:>6.1f}x "
            f"{memory:>22} {d_map:>10.1e} {d_p:>8.1e}"
        )
    seconds = time_rank_by_similarity(100_000, args.features, args.seed)
    print(f"rank_by_similarity, 100000 profiles x {args.features}: {1000 * seconds:.0f} ms")


if __name__ == "__main__":
    main()

"""Time copairs against napari-phenoscope on AP + mAP + p-values, in one run.

Two set-ups, each a list of sizes:

* ``cpjump1`` mimics CPJUMP1 replicate retrieval: 384-well plates with 64 negative-control
  wells and 320 perturbations per plate, each perturbation on 4 replicate plates; a
  perturbation's replicates are the positives, the negative controls of the query's plate
  the negatives (copairs' reference-index recipe).
* ``vs-all`` is copairs' "replicate vs all" set-up: 1500 perturbations with 6-7 replicates
  each, spread at random over 4 plates; positives are the replicates on other plates
  (pos_diffby plate), negatives every profile of another perturbation (neg_diffby).

Both libraries get the same table, rules, null size and seed. Each call runs in a fresh
process (so that its peak resident memory is its own; the input table counts) with a time
limit; the script checks that AP and mAP agree and prints the time ratio copairs / ours.
Ours uses ``null="auto"``: copairs' own permutation nulls (identical p-values) when they
are affordable, sampled positives' ranks (p-values within Monte-Carlo error) otherwise; the
``null`` column says which.

    python benchmarks/bench_metrics.py [--cpjump1 2000 10000 40000 100000:1000]
        [--vs-all 10000] [--null-size 10000] [--copairs-timeout 1800]

A size ``N:D`` means N profiles of D features (default D: 384 for cpjump1, 64 for vs-all).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

import napari_phenoscope.evaluation.precision as metrics

WELLS_PER_PLATE = 384
NEGCON_PER_PLATE = 64
REPLICATE_PLATES = 4
RULES = {
    "pos_sameby": ["Metadata_broad_sample", "Metadata_reference_index"],
    "pos_diffby": [],
    "neg_sameby": ["Metadata_Plate"],
    "neg_diffby": ["Metadata_broad_sample", "Metadata_reference_index"],
}
VS_ALL_RULES = {
    "pos_sameby": ["Metadata_broad_sample"],
    "pos_diffby": ["Metadata_Plate"],
    "neg_sameby": [],
    "neg_diffby": ["Metadata_broad_sample"],
}
VS_ALL_PERTURBATIONS = 1500
DEFAULT_FEATURES = {"cpjump1": 384, "vs-all": 64}


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


def vs_all_table(n_profiles: int, n_features: int, seed: int):
    """copairs' "replicate vs all" table: perturbations with 6-7 replicates on random plates."""
    rng = np.random.default_rng(seed)
    perturbation = np.arange(n_profiles) % VS_ALL_PERTURBATIONS
    meta = pd.DataFrame(
        {
            "Metadata_Plate": [f"P{k}" for k in rng.integers(0, REPLICATE_PLATES, n_profiles)],
            "Metadata_broad_sample": [f"BRD-{k:04d}" for k in perturbation],
        }
    )
    signal = rng.normal(size=(VS_ALL_PERTURBATIONS, n_features))
    signal *= rng.uniform(0, 0.8, VS_ALL_PERTURBATIONS)[:, None]
    return meta, signal[perturbation] + rng.normal(size=(n_profiles, n_features))


TABLES = {"cpjump1": (replicate_table, RULES), "vs-all": (vs_all_table, VS_ALL_RULES)}


def run_ours(meta, feats, rules, null_size, seed):
    ap = metrics.average_precision(meta, feats, **rules)
    maps = metrics.mean_average_precision(ap, ["Metadata_broad_sample"], null_size, 0.05, seed)
    return ap, maps


def run_copairs(meta, feats, rules, null_size, seed):
    from copairs.map import average_precision, mean_average_precision

    ap = average_precision(meta, feats, **rules, progress_bar=False)
    with tempfile.TemporaryDirectory() as cache:  # an empty cache: copairs' fresh nulls
        maps = mean_average_precision(
            ap,
            ["Metadata_broad_sample"],
            null_size,
            0.05,
            seed,
            progress_bar=False,
            cache_dir=cache,
        )
    return ap, maps


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(connection, runner, setup, n_profiles, n_features, null_size, seed) -> None:
    warnings.filterwarnings("ignore")
    make_table, rules = TABLES[setup]
    meta, feats = make_table(n_profiles, n_features, seed)
    baseline = _rss_mib()
    start = time.perf_counter()
    ap, maps = runner(meta, feats, rules, null_size, seed)
    seconds = time.perf_counter() - start
    ap_values = ap["average_precision"].to_numpy(dtype=float)
    connection.send((seconds, _rss_mib(), baseline, ap_values, maps))
    connection.close()


def in_fresh_process(runner, setup, n_profiles, n_features, null_size, seed, timeout):
    """(seconds, peak RSS MiB, RSS before the call MiB, AP values, mAP table) of one call in
    a forked process, or None if it did not finish within ``timeout`` seconds (or died)."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(sender, runner, setup, n_profiles, n_features, null_size, seed)
    )
    process.start()
    sender.close()
    result = receiver.recv() if receiver.poll(timeout) else None
    if result is None:
        process.kill()
    process.join()
    return result


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


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


def parse_size(text: str, setup: str) -> tuple[int, int]:
    profiles, _, features = text.partition(":")
    return int(profiles), int(features) if features else DEFAULT_FEATURES[setup]


def compare(theirs, ours) -> str:
    """max |dAP|, max |dmAP|, max |dp| between copairs' results and ours."""
    ap_theirs, maps_theirs = theirs
    ap_ours, maps_ours = ours
    same_nan = np.array_equal(np.isnan(ap_theirs), np.isnan(ap_ours))
    d_ap = np.nanmax(np.abs(ap_theirs - ap_ours)) if same_nan else np.inf
    d_map = np.abs(maps_theirs["mean_average_precision"] - maps_ours["mean_average_precision"])
    d_p = np.abs(maps_theirs["p_value"] - maps_ours["p_value"])
    return f"{d_ap:>9.1e} {d_map.max():>9.1e} {d_p.max():>8.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpjump1", nargs="*", default=["2000", "10000", "40000", "100000:1000"])
    parser.add_argument("--vs-all", nargs="*", default=["10000"])
    parser.add_argument("--null-size", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--copairs-timeout", type=float, default=1800.0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import copairs.map  # noqa: F401  imported once here, not timed in each forked process

    print(f"null_size={args.null_size} seed={args.seed}; peak RSS per process, input included")
    print(
        f"{'set-up':>8} {'profiles':>9} {'feats':>5} {'copairs s':>10} {'ours s':>8} "
        f"{'ratio':>7} {'RSS GiB copairs/ours':>21} {'max|dAP|':>9} {'max|dmAP|':>9} "
        f"{'max|dp|':>8} null"
    )
    runs = [("cpjump1", size) for size in args.cpjump1] + [("vs-all", s) for s in args.vs_all]
    for setup, size in runs:
        n_profiles, n_features = parse_size(size, setup)
        call = (setup, n_profiles, n_features, args.null_size, args.seed)
        ours = in_fresh_process(run_ours, *call, timeout=24 * 3600)
        if ours is None:
            print(f"{setup:>8} {n_profiles:>9} {n_features:>5}: ours failed (see above)")
            continue
        theirs = in_fresh_process(run_copairs, *call, timeout=args.copairs_timeout)
        null = ",".join(sorted(set(ours[4]["null_method"])))
        if theirs is None:
            limit = f"> {args.copairs_timeout:.0f}"
            print(
                f"{setup:>8} {n_profiles:>9} {n_features:>5} {limit:>10} {ours[0]:>8.2f} "
                f"{'':>7} {'- / ' + format(ours[1] / 1024, '.2f'):>21} "
                f"{'(copairs did not finish)':>28} {null}"
            )
            continue
        print(
            f"{setup:>8} {n_profiles:>9} {n_features:>5} {theirs[0]:>10.2f} {ours[0]:>8.2f} "
            f"{theirs[0] / ours[0]:>6.1f}x "
            f"{theirs[1] / 1024:>10.2f} / {ours[1] / 1024:<8.2f} "
            f"{compare(theirs[3:], ours[3:])} {null}"
        )
    seconds = time_rank_by_similarity(100_000, 384, args.seed)
    print(f"rank_by_similarity, 100000 profiles x 384: {1000 * seconds:.0f} ms")


if __name__ == "__main__":
    main()

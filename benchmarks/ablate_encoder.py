"""Encoder ablations on a held-out demo project: weights x crop normalisation x pooling.

Each field of the project is read and segmented once; its cells' crops are cut with per-field
and with per-plate normalisation (``scaling.plate_limits``) and kept in float16 memmaps, so
every variant only re-embeds. Each variant's cells are aggregated, normalised and
feature-selected exactly as ``phenoscope profile`` does (``pipeline.well_profiles``) and
scored with the CPJUMP1 tasks; the classical features come from ``phenoscope profile
--features classical`` on the same project. Printed: mAP per task, the ViT / classical
ratio, and where PLK1 and BRD4 rank for BI-2536.

A variant is ``NAME=WEIGHTS[:SCOPE[:POOLING]]``; WEIGHTS ``bundled`` is the shipped file;
SCOPE (``field`` / ``plate``) and POOLING (``mean`` / ``cls`` / ``cls+mean``) override what the
weights record, to measure a choice at inference only. Example (validation seed 5)::

    python benchmarks/ablate_encoder.py --work /tmp/ablate --seed 5 \\
        --variant shipped=bundled --variant shipped-plate=bundled:plate

``--variation train|heldout`` renders the project with ``demo.variation``'s looks (issue 21);
``--postprocess sph,all`` also scores every feature set after ZCA-cor sphering on the
negative controls (``sph``) and after re-centring each plate on all its wells (``all``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_profiles import FEATURE_SETS, evaluate, gene_ranks  # noqa: E402

from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL  # noqa: E402
from napari_phenoscope.demo.project import write_demo_plates  # noqa: E402
from napari_phenoscope.features.crops import extract_crops  # noqa: E402
from napari_phenoscope.features.scaling import plate_limits  # noqa: E402
from napari_phenoscope.io import join_well_metadata, read_field, read_well_metadata  # noqa: E402
from napari_phenoscope.io.profiles import read_profiles  # noqa: E402
from napari_phenoscope.models import embed_crops, load_encoder  # noqa: E402
from napari_phenoscope.profiling.pipeline import index_plates, profile_plates  # noqa: E402
from napari_phenoscope.profiling.processing import normalise, spherise  # noqa: E402
from napari_phenoscope.profiling.wells import well_profiles  # noqa: E402
from napari_phenoscope.segmentation import segment_field  # noqa: E402

SCOPES = ("field", "plate")
CROP_SIZE = 64
#: Post-processings of well profiles: name -> function.
POSTPROCESS = {
    "sph": spherise,
    "all": lambda profiles: normalise(profiles, samples="all"),
}


def render(work: Path, seed: int, n_wells: int, n_sites: int, variation: str | None) -> Path:
    """Render the held-out demo project once (kept between runs), in a variation's looks."""
    tag = f"_{variation}" if variation else ""
    root = work / f"demo_seed{seed}_w{n_wells}_s{n_sites}{tag}"
    if not (root / "demo_manifest.json").is_file():
        write_demo_plates(
            root, seed=seed, n_wells=n_wells, n_sites=n_sites, progress=True, variation=variation
        )
    return root


def cut_crops(root: Path, work: Path) -> tuple[pd.DataFrame, dict[str, np.memmap]]:
    """Segment every field once; crops with both normalisations (cached in ``work``)."""
    table_path = work / "cells.parquet"
    paths = {scope: work / f"crops_{scope}.f16" for scope in SCOPES}
    if table_path.is_file():
        cells = pd.read_parquet(table_path)
    else:
        fields = index_plates([root])
        limits = {plate: plate_limits(group) for plate, group in fields.groupby(PLATE)}
        handles = {scope: open(path, "wb") for scope, path in paths.items()}
        tables = []
        start = time.perf_counter()
        for index, row in enumerate(fields.to_dict("records")):
            image = read_field(row, channels=CHANNELS)
            segmentation = segment_field(image, channels=CHANNELS)
            table = segmentation.table.reset_index(drop=True)
            for scope in SCOPES:
                scaling = "field" if scope == "field" else limits[row[PLATE]]
                crops = extract_crops(image, table, size=CROP_SIZE, normalization=scaling)
                handles[scope].write(crops.astype(np.float16).tobytes())
            tables.append(table.assign(**{PLATE: row[PLATE], WELL: row[WELL], SITE: row[SITE]}))
            if index % 100 == 0:
                print(
                    f"  cropped {index}/{len(fields)} fields, {time.perf_counter() - start:.0f} s"
                )
        for handle in handles.values():
            handle.close()
        cells = pd.concat(tables, ignore_index=True)
        cells.to_parquet(table_path)
    shape = (len(cells), len(CHANNELS), CROP_SIZE, CROP_SIZE)
    crops = {s: np.memmap(p, dtype=np.float16, mode="r", shape=shape) for s, p in paths.items()}
    return cells, crops


def parse_variant(text: str) -> tuple[str, str, str | None, str | None]:
    name, _, spec = text.partition("=")
    parts = spec.split(":")
    weights = parts[0]
    scope = parts[1] if len(parts) > 1 and parts[1] else None
    pooling = parts[2] if len(parts) > 2 and parts[2] else None
    return name, weights, scope, pooling


def vit_profiles(cells, crops, metadata, weights, scope, pooling) -> tuple[pd.DataFrame, float]:
    """Well profiles of one variant and its embedding throughput (cells/s)."""
    encoder = load_encoder(None if weights == "bundled" else weights)
    preprocessing = encoder.phenoscope_preprocessing
    if scope or pooling:
        preprocessing = replace(
            preprocessing,
            normalization=scope or preprocessing.normalization,
            pooling=pooling or preprocessing.pooling,
        )
        encoder.phenoscope_preprocessing = preprocessing
    source = crops[preprocessing.normalization]
    start = time.perf_counter()
    chunks = [
        embed_crops(encoder, np.asarray(source[i : i + 4096], np.float32), device="cpu")
        for i in range(0, len(source), 4096)
    ]
    rate = len(source) / (time.perf_counter() - start)
    embeddings = np.concatenate(chunks)
    names = [f"Cells_ViT_{i:04d}" for i in range(embeddings.shape[1])]
    table = pd.concat([cells, pd.DataFrame(embeddings, columns=names)], axis=1)
    table = join_well_metadata(table, metadata)
    return well_profiles(table, names), rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/phenoscope-ablate"))
    parser.add_argument("--seed", type=int, default=5, help="demo seed (never a training seed)")
    parser.add_argument("--wells", type=int, default=64)
    parser.add_argument("--sites", type=int, default=2)
    parser.add_argument("--null-size", type=int, default=1000)
    parser.add_argument(
        "--variant", action="append", default=[], help="NAME=WEIGHTS[:SCOPE[:POOL]]"
    )
    parser.add_argument("--json", type=Path, help="append the rows to this JSON-lines file")
    parser.add_argument(
        "--spherize",
        action="store_true",
        help="same as --postprocess sph",
    )
    parser.add_argument(
        "--postprocess",
        default="",
        help="comma-separated post-processings also scored: sph (ZCA-cor on negcon), all "
        "(re-centre each plate on all wells); rows NAME+P, ratios to classical+P",
    )
    parser.add_argument("--variation", choices=("train", "heldout"), help="demo looks")
    args = parser.parse_args(argv)
    post = [p for p in args.postprocess.split(",") if p] + (["sph"] if args.spherize else [])
    root = render(args.work, args.seed, args.wells, args.sites, args.variation)
    work = root.with_name(root.name.replace("demo_", "crops_"))
    work.mkdir(parents=True, exist_ok=True)
    cells, crops = cut_crops(root, work)
    metadata = read_well_metadata(root)
    classical_out = profile_plates([root], work / "classical", features="classical", progress=False)
    classical = read_profiles(classical_out.well_profiles["classical"])
    results = {"classical": (evaluate(classical, args.null_size), gene_ranks(classical), None)}
    for name in dict.fromkeys(post):
        changed = POSTPROCESS[name](classical)
        results[f"classical+{name}"] = (
            evaluate(changed, args.null_size),
            gene_ranks(changed),
            None,
        )
    for text in args.variant:
        name, weights, scope, pooling = parse_variant(text)
        profiles, rate = vit_profiles(cells, crops, metadata, weights, scope, pooling)
        results[name] = (evaluate(profiles, args.null_size), gene_ranks(profiles), rate)
        print(f"{name}: {len(cells)} cells embedded at {rate:.0f} cells/s", flush=True)
        for post_name in dict.fromkeys(post):
            changed = POSTPROCESS[post_name](profiles)
            results[f"{name}+{post_name}"] = (
                evaluate(changed, args.null_size),
                gene_ranks(changed),
                rate,
            )
    rows = list(results["classical"][0])
    header = "| variant | " + " | ".join(rows) + " | PLK1 | BRD4 |"
    print(
        f"\nseed {args.seed}, {args.wells} wells x {args.sites} sites, {len(cells)} cells, "
        f"null {args.null_size} ({FEATURE_SETS} baseline: classical)\n"
    )
    print(header)
    print("|" + " --- |" * (len(rows) + 3))
    for name, (scores, (ranks, n_genes), _rate) in results.items():
        suffix = name.rpartition("+")[2] if "+" in name else ""
        base = results[f"classical+{suffix}" if suffix in POSTPROCESS else "classical"][0]
        cells_text = []
        for row in rows:
            value = scores.get(row, (np.nan,))[0]
            ratio = "" if name.startswith("classical") else f" ({value / base[row][0]:.2f}x)"
            cells_text.append(f"{value:.3f}{ratio}")
        print(
            f"| {name} | "
            + " | ".join(cells_text)
            + f" | {ranks['PLK1']}/{n_genes} | {ranks['BRD4']}/{n_genes} |"
        )
        if args.json:
            with open(args.json, "a") as handle:
                record = {
                    "seed": args.seed,
                    "variation": args.variation,
                    "variant": name,
                    "ranks": ranks,
                    "scores": {r: scores.get(r, (np.nan,))[0] for r in rows},
                }
                handle.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""ViT versus classical features on held-out demo plates, through the retrieval engine.

The bundled encoder was pre-trained on demo plates rendered with seed 1 (its weights record
the training folder, ``demo_seed1``); this benchmark renders another seed (2 by default:
other gene effects, mechanisms, plate effects and cells), profiles it with the pipeline of
``phenoscope profile`` twice (``--features vit`` and ``--features classical``) and prints,
side by side:

- replicate retrieval (mAP, fraction retrieved) per modality;
- compound-gene retrieval against CRISPR and against ORF profiles (mAP, fraction retrieved);
- the rank of PLK1 and of BRD4 among the CRISPR genes when BI-2536 is the query (cosine
  similarity of BI-2536's consensus profile to each gene's consensus profile).

Run (about 10 minutes on two CPU cores; reruns reuse the rendered plates and the field
caches)::

    .venv/bin/python benchmarks/bench_profiles.py --work /tmp/phenoscope-bench --write-docs

``--write-docs`` replaces the results section of docs/pipeline.md with this run's numbers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import napari_phenoscope.demo.job as quickstart
import napari_phenoscope.evaluation.precision as metrics
from napari_phenoscope.constants import (
    MODALITY,
)
from napari_phenoscope.demo.project import write_demo_plates
from napari_phenoscope.evaluation import tasks
from napari_phenoscope.io.profiles import feature_columns, read_profiles
from napari_phenoscope.profiling.pipeline import profile_plates

FEATURE_SETS = ("vit", "classical")
QUERY = "BI-2536"
GENES = ("PLK1", "BRD4")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "pipeline.md"
BEGIN, END = "<!-- bench_profiles: begin -->", "<!-- bench_profiles: end -->"


def render(work: Path, seed: int, n_wells: int, n_sites: int) -> Path:
    """Render the held-out demo project once (kept between runs)."""
    root = work / f"demo_seed{seed}_w{n_wells}_s{n_sites}"
    if not (root / "demo_manifest.json").is_file():
        write_demo_plates(root, seed=seed, n_wells=n_wells, n_sites=n_sites, progress=True)
    return root


def training_plates(model: Path | None) -> list[str]:
    """The plate folders the encoder was trained on, as its weights file records them."""
    from napari_phenoscope.models import bundled_weights_path, read_weights

    metadata = read_weights(model or bundled_weights_path()).metadata
    training = metadata.get("training") or {}
    return list(training.get("plates", [])) if isinstance(training, dict) else []


def gene_ranks(profiles: pd.DataFrame) -> tuple[dict[str, int], int]:
    """Rank of PLK1 and BRD4 among CRISPR gene consensus profiles for BI-2536
    (``quickstart.gene_ranks``, the definition the demo job prints), as {gene: rank}, n."""
    ranks = quickstart.gene_ranks(profiles, QUERY, GENES)
    by_gene = {
        g: (-1 if pd.isna(r) else int(r)) for g, r in zip(ranks["gene"], ranks["rank"], strict=True)
    }
    return by_gene, int(ranks["n_genes"].iloc[0])


def evaluate(profiles: pd.DataFrame, null_size: int) -> dict[str, tuple[float, float]]:
    """Replicate and compound-gene retrieval: {row name: (mAP, fraction retrieved)}."""
    rows: dict[str, tuple[float, float]] = {}
    replicate = tasks.evaluate(profiles, "replicate", null_size=null_size, seed=0).summary
    for record in replicate.to_dict("records"):
        rows[f"replicate, {record[MODALITY]}"] = (
            record[metrics.MAP],
            record["fraction_retrieved"],
        )
    matching = tasks.evaluate(profiles, "compound-gene", null_size=null_size, seed=0).summary
    for record in matching.to_dict("records"):
        rows[f"compound-gene, {record[tasks.REFERENCE]}"] = (
            record[metrics.MAP],
            record["fraction_retrieved"],
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/phenoscope-bench"))
    parser.add_argument("--seed", type=int, default=2, help="demo seed (the model saw 1)")
    parser.add_argument("--wells", type=int, default=64, help="wells per demo plate")
    parser.add_argument("--sites", type=int, default=2, help="sites per well")
    parser.add_argument("--model", type=Path, default=None, help="weights (bundled)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--null-size", type=int, default=10000)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    trained_on = training_plates(args.model)
    if any(name.endswith(f"seed{args.seed}") for name in trained_on):
        print(f"warning: the encoder was trained on {trained_on}: not held out", file=sys.stderr)

    root = render(args.work, args.seed, args.wells, args.sites)
    results, ranks, timings, counts = {}, {}, {}, {}
    for name in FEATURE_SETS:
        start = time.perf_counter()
        outputs = profile_plates(
            [root],
            args.work / f"out_seed{args.seed}_{name}",
            features=name,
            model_path=args.model,
            device=args.device,
        )
        timings[name] = (time.perf_counter() - start, outputs.n_fields_computed)
        profiles = read_profiles(outputs.well_profiles[name])
        counts[name] = (outputs.n_fields, outputs.n_cells, len(feature_columns(profiles)))
        results[name] = evaluate(profiles, args.null_size)
        ranks[name] = gene_ranks(profiles)

    report = format_report(args, trained_on, results, ranks, timings, counts)
    print(report)
    if args.write_docs:
        write_docs(report)
        print(f"\nwritten into {DOCS}")
    return 0


def format_report(args, trained_on, results, ranks, timings, counts) -> str:
    """The results as a markdown section (printed, and optionally put in the docs)."""
    lines = [
        f"Held-out demo project: seed {args.seed} (the encoder was trained on "
        f"{', '.join(trained_on) or 'unrecorded plates'}), "
        f"{args.wells} wells x {args.sites} sites per plate, "
        f"{counts['vit'][0]} fields, {counts['vit'][1]} cells; permutation null "
        f"{args.null_size}; command: `python benchmarks/bench_profiles.py --seed {args.seed} "
        f"--wells {args.wells} --sites {args.sites} --null-size {args.null_size}`.",
        "",
        "| task | ViT mAP | classical mAP | ViT fraction retrieved "
        "| classical fraction retrieved |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in results["vit"]:
        vit = results["vit"][row]
        classical = results["classical"].get(row, (np.nan, np.nan))
        lines.append(
            f"| {row} | {vit[0]:.3f} | {classical[0]:.3f} | {vit[1]:.3f} | {classical[1]:.3f} |"
        )
    lines += ["", f"Rank among CRISPR genes when {QUERY} is the query (1 = most similar):", ""]
    lines += ["| gene | ViT | classical |", "| --- | --- | --- |"]
    for gene in GENES:
        vit_rank, vit_total = ranks["vit"][0][gene], ranks["vit"][1]
        classical_rank, classical_total = ranks["classical"][0][gene], ranks["classical"][1]
        lines.append(
            f"| {gene} | {vit_rank} of {vit_total} | {classical_rank} of {classical_total} |"
        )
    lines += [
        "",
        "Profile features after selection: "
        + ", ".join(f"{name} {counts[name][2]}" for name in FEATURE_SETS)
        + ". Profiling time (fields computed in this run): "
        + ", ".join(
            f"{name} {seconds:.0f} s ({computed} fields)"
            for name, (seconds, computed) in timings.items()
        )
        + ".",
    ]
    return "\n".join(lines)


def write_docs(report: str) -> None:
    """Replace the text between the benchmark markers of docs/pipeline.md."""
    text = DOCS.read_text()
    block = f"{BEGIN}\n{report}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOCS.write_text(text)


if __name__ == "__main__":
    sys.exit(main())

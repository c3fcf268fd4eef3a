"""Where the demo job's time goes: per stage, whole plates, 1 vs 2 Dask workers.

Run (on the demo project ``phenoscope demo`` profiles; plates rendered once into --work)::

    python benchmarks/bench_pipeline.py --work /tmp/phenoscope-bench-pipeline

Prints, in one run:

1. **render**: seconds to render the demo plates (what a first ``phenoscope demo`` pays);
2. **stages** on a sample of fields, in this process with one thread (so per core): read
   (the five TIFFs), segment, crops, ViT, classical; seconds per field, fields/s and cells/s,
   wall-clock and CPU time (CPU time is robust to other jobs on a shared machine);
3. **read**: reading every field's TIFFs once, the floor any profiling run stands on;
4. **profile**: ``profile_plates`` (ViT and classical, fresh caches) for each ``--modes``
   entry: ``in-process`` (one process, torch on all cores) or N local Dask workers; wall
   seconds, fields/s, cells/s and the ratio of profiling time to TIFF read time;
5. **aggregate / evaluate**: well profiles per feature set, then the demo's retrieval tasks
   (replicate and compound-gene mAP with ``--null-size``) per feature set.

The demo's size is the one ``phenoscope demo`` profiles unless --wells/--sites/--replicates
say otherwise. Numbers from a loaded machine are wall-clock under load: read the CPU columns and
the load average printed with them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.demo import job as quickstart
from napari_phenoscope.demo.project import write_demo_plates
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.evaluation.tasks import evaluate
from napari_phenoscope.io import read_field
from napari_phenoscope.profiling.outputs import VIT_PREFIX
from napari_phenoscope.profiling.pipeline import index_plates, profile_plates
from napari_phenoscope.profiling.wells import well_profiles

STAGES = ("read", "segment", "crops", "ViT", "classical")


class Clock:
    """Wall-clock and CPU seconds (this process and its children) of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), _cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = _cpu_seconds() - self.cpu


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def render(work: Path, n_wells: int, n_sites: int, n_replicates: int) -> tuple[Path, float]:
    """Render the demo project (seed 0, the demo job's) once; seconds spent (0 if cached)."""
    root = work / f"demo_w{n_wells}_s{n_sites}_r{n_replicates}"
    if (root / "demo_manifest.json").is_file():
        return root, 0.0
    with Clock() as clock:
        write_demo_plates(
            root,
            seed=quickstart.QUICKSTART_SEED,
            n_wells=n_wells,
            n_sites=n_sites,
            n_replicates=n_replicates,
            progress=False,
        )
    return root, clock.wall


def stage_times(rows: list[dict], encoder: object) -> pd.DataFrame:
    """Seconds per stage for each sampled field, one thread (torch included)."""
    from napari_phenoscope.features.classical import measure_cells
    from napari_phenoscope.features.crops import extract_crops
    from napari_phenoscope.models import embed_crops
    from napari_phenoscope.segmentation.field import segment_field

    crop_size = int(encoder.patch_embed.img_size[0])
    records = []
    for row in rows:
        record: dict[str, float] = {}
        with Clock() as clock:
            image = read_field(row, channels=CHANNELS)
        record["read"], record["read_cpu"] = clock.wall, clock.cpu
        with Clock() as clock:
            segmentation = segment_field(image, channels=CHANNELS)
        record["segment"], record["segment_cpu"] = clock.wall, clock.cpu
        with Clock() as clock:
            crops = extract_crops(image, segmentation.table, size=crop_size)
        record["crops"], record["crops_cpu"] = clock.wall, clock.cpu
        with Clock() as clock:
            embed_crops(encoder, crops, batch_size=64, device="cpu")
        record["ViT"], record["ViT_cpu"] = clock.wall, clock.cpu
        with Clock() as clock:
            measure_cells(image, segmentation.nuclei, segmentation.cells, CHANNELS)
        record["classical"], record["classical_cpu"] = clock.wall, clock.cpu
        record["cells"] = len(segmentation.table)
        records.append(record)
    return pd.DataFrame(records)


def print_stages(times: pd.DataFrame, n_fields: int) -> None:
    cells = times["cells"].sum()
    print(f"\nstages, {len(times)} sampled fields ({cells} cells), one thread:")
    print(f"{'stage':<10} {'s/field':>8} {'CPU s/field':>11} {'fields/s':>9} {'cells/s':>9}")
    total = 0.0
    for stage in STAGES:
        wall = times[stage].sum()
        total += wall
        print(
            f"{stage:<10} {wall / len(times):8.4f} {times[f'{stage}_cpu'].mean():11.4f} "
            f"{len(times) / wall:9.1f} {cells / wall:9.0f}"
        )
    print(
        f"{'all':<10} {total / len(times):8.4f} {'':>11} {len(times) / total:9.1f} "
        f"{cells / total:9.0f}   -> {n_fields * total / len(times):.0f} s for the "
        f"{n_fields} fields on one core"
    )


def read_all(rows: list[dict]) -> float:
    """Seconds to read every field's TIFFs once (sequentially)."""
    with Clock() as clock:
        for row in rows:
            read_field(row, channels=CHANNELS)
    return clock.wall


def profile(project: Path, out: Path, mode: str) -> tuple[float, float, int, int]:
    """One fresh ``profile_plates`` run (ViT and classical): wall s, CPU s (this process
    and its worker processes), fields, cells."""
    shutil.rmtree(out, ignore_errors=True)
    workers = None if mode == "in-process" else int(mode)
    with Clock() as clock:
        outputs = profile_plates([project], out, features="both", progress=False, workers=workers)
    return clock.wall, clock.cpu, outputs.n_fields, outputs.n_cells


def aggregate_and_evaluate(out: Path, null_size: int) -> pd.DataFrame:
    """Seconds to make the well profiles and run the demo's retrieval tasks, per set."""
    from napari_phenoscope.features.classical import classical_feature_names

    cells = pd.read_parquet(out / "single_cells.parquet")
    feature_columns = {
        "vit": [c for c in cells.columns if c.startswith(VIT_PREFIX)],
        "classical": classical_feature_names(CHANNELS),
    }
    rows = []
    for feature_set, features in feature_columns.items():
        with Clock() as aggregate:
            profiles = well_profiles(cells, features)
        with Clock() as evaluation:
            maps = {task: _evaluate(profiles, task, null_size) for task in quickstart.TASKS}
        ranks = quickstart.gene_ranks(profiles).set_index("gene")["rank"]
        rows.append(
            {
                "features": feature_set,
                "aggregate_s": aggregate.wall,
                "evaluate_s": evaluation.wall,
                "replicate_mAP": _mean_map(maps["replicate"]),
                "compound_gene_mAP": _mean_map(maps["compound-gene"]),
                "PLK1_rank": ranks.get("PLK1"),
                "BRD4_rank": ranks.get("BRD4"),
            }
        )
    return pd.DataFrame(rows)


def _evaluate(profiles: pd.DataFrame, task: str, null_size: int) -> pd.DataFrame | None:
    """A task's summary, or None where a small benchmark plate has no query for it."""
    try:
        return evaluate(profiles, task, null_size=null_size, seed=0).summary
    except ProfileTableError:
        return None


def _mean_map(summary: pd.DataFrame | None) -> float:
    return float("nan") if summary is None else float(summary["mean_average_precision"].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/phenoscope-bench-pipeline"))
    parser.add_argument("--wells", type=int, default=None, help="wells per plate (demo default)")
    parser.add_argument("--sites", type=int, default=None, help="sites per well (demo default)")
    parser.add_argument("--replicates", type=int, default=None, help="plates per modality")
    parser.add_argument("--sample", type=int, default=48, help="fields timed stage by stage")
    parser.add_argument("--modes", default="1,2", help="in-process and/or worker counts")
    parser.add_argument("--null-size", type=int, default=quickstart.DEFAULT_NULL_SIZE)
    parser.add_argument(
        "--profiles", type=Path, help="aggregate / evaluate this profile output instead"
    )
    args = parser.parse_args()

    import torch

    from napari_phenoscope.demo.project import DEFAULT_REPLICATES, DEFAULT_WELLS
    from napari_phenoscope.models import load_encoder

    print(f"load average at start: {os.getloadavg()}, {os.cpu_count()} CPUs")
    n_wells = args.wells or DEFAULT_WELLS
    n_sites = args.sites or quickstart.JOB_SITES
    n_replicates = args.replicates or DEFAULT_REPLICATES
    project, render_s = render(args.work, n_wells, n_sites, n_replicates)
    rows = index_plates([project]).to_dict("records")
    print(
        f"demo project {project}: {n_wells} wells x {n_sites} sites x {n_replicates} "
        f"replicates x 3 modalities = {len(rows)} fields; render {render_s:.1f} s"
    )

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    encoder = load_encoder(device="cpu")
    sample = [rows[int(i)] for i in np.linspace(0, len(rows) - 1, min(args.sample, len(rows)))]
    stage_times(sample[:2], encoder)  # warm-up: imports, first-call caches
    print_stages(stage_times(sample, encoder), len(rows))
    torch.set_num_threads(threads)

    read_s = read_all(rows)
    print(f"\nread every field's TIFFs: {read_s:.1f} s ({len(rows) / read_s:.0f} fields/s)")

    print("\nprofile_plates, ViT + classical, fresh caches:")
    print(
        f"{'mode':<12} {'wall s':>8} {'CPU s':>8} {'fields/s':>9} {'cells/s':>8} "
        f"{'/ read':>7}  load"
    )
    last_out = None
    baseline = None
    for mode in filter(None, args.modes.split(",")):
        out = args.work / f"profiles_{mode}"
        wall, cpu, n_fields, n_cells = profile(project, out, mode.strip())
        baseline = baseline or wall
        label = mode if mode == "in-process" else f"{mode} worker{'s' if mode != '1' else ''}"
        print(
            f"{label:<12} {wall:8.1f} {cpu:8.1f} {n_fields / wall:9.2f} {n_cells / wall:8.0f} "
            f"{wall / read_s:7.1f}  {os.getloadavg()[0]:.1f}   "
            f"(speed-up vs first row {baseline / wall:.2f}x)"
        )
        last_out = out

    evaluated = args.profiles or last_out
    results = aggregate_and_evaluate(evaluated, args.null_size)
    print(f"\naggregate and evaluate {evaluated} (null size {args.null_size}):")
    print(results.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()

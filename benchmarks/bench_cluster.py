"""Where the CPU of a Dask run goes: ``profile`` in-process vs 1, 2 ... Dask workers.

Run (fields rendered once into --work; classical features, the issue #22 set-up)::

    python benchmarks/bench_cluster.py --work /tmp/phenoscope-bench-cluster \
        --fields 16 --size 1080 --modes in-process,workers:1,workers:2,cluster:2

Modes:

- ``in-process``: ``profile_plates`` in this process;
- ``workers:N``: ``--workers N``, the local cluster ``profiling.execute`` starts;
- ``cluster:N``: an existing cluster of N one-thread worker processes started with
  distributed's own defaults (what a user's ``dask worker`` or LocalCluster gives), used
  through ``--scheduler``.

For each mode it prints wall seconds, CPU seconds (user + system, this process and every
worker: children are reaped when the cluster closes), fields/s, fields per CPU-second, and
the ratios to in-process. On a loaded machine wall-clock ratios mean little: compare CPU.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import pandas as pd
import tifffile

from napari_phenoscope.constants import CHANNELS


def _cpu() -> tuple[float, float]:
    times = os.times()
    return times.user + times.children_user, times.system + times.children_system


def render_plate(work: Path, n_fields: int, size: int, n_cells: int) -> Path:
    """A LoadData plate of ``n_fields`` rendered fields (one per well), written once."""
    from napari_phenoscope.demo.render import render_field

    csv = work / f"plate_{n_fields}x{size}" / "load_data.csv"
    if csv.is_file():
        return csv
    images = csv.parent / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(n_fields):
        well = f"{'ABCDEFGHIJKLMNOP'[index // 24]}{index % 24 + 1:02d}"
        field = render_field((11, index), size=size, n_cells=n_cells)
        row = {"Metadata_Plate": "BENCH", "Metadata_Well": well, "Metadata_Site": 1}
        for channel, plane in zip(CHANNELS, field.image, strict=True):
            name = f"{well}_{channel}.tiff"
            tifffile.imwrite(images / name, plane)
            row[f"FileName_Orig{channel}"] = name
            row[f"PathName_Orig{channel}"] = str(images)
        rows.append(row)
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv


def run_mode(mode: str, plate: Path, out: Path) -> dict[str, float]:
    from napari_phenoscope.profiling.pipeline import profile_plates

    shutil.rmtree(out, ignore_errors=True)
    kind, _, count = mode.partition(":")
    user, system = _cpu()
    wall = time.perf_counter()
    if kind == "in-process":
        outputs = profile_plates([plate], out, features="classical", progress=False)
    elif kind == "workers":
        outputs = profile_plates(
            [plate], out, features="classical", progress=False, workers=int(count)
        )
    elif kind == "cluster":
        from distributed import LocalCluster

        with LocalCluster(n_workers=int(count), threads_per_worker=1, processes=True) as cluster:
            outputs = profile_plates(
                [plate],
                out,
                features="classical",
                progress=False,
                scheduler=cluster.scheduler_address,
            )
    else:
        raise SystemExit(f"unknown mode {mode}")
    wall = time.perf_counter() - wall
    user_after, system_after = _cpu()
    return {
        "mode": mode,
        "fields": outputs.n_fields,
        "cells": outputs.n_cells,
        "wall_s": wall,
        "user_s": user_after - user,
        "sys_s": system_after - system,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/phenoscope-bench-cluster"))
    parser.add_argument("--fields", type=int, default=16)
    parser.add_argument("--size", type=int, default=1080)
    parser.add_argument("--cells", type=int, default=300, help="cells per field")
    parser.add_argument("--modes", default="in-process,workers:1,workers:2,cluster:2")
    args = parser.parse_args()
    plate = render_plate(args.work, args.fields, args.size, args.cells)
    print(f"load average before: {os.getloadavg()}")
    rows = [run_mode(mode, plate, args.work / "out") for mode in args.modes.split(",")]
    table = pd.DataFrame(rows)
    table["cpu_s"] = table["user_s"] + table["sys_s"]
    table["fields_per_s"] = table["fields"] / table["wall_s"]
    table["fields_per_cpu_s"] = table["fields"] / table["cpu_s"]
    base = table.iloc[0]
    table["cpu_vs_first"] = table["cpu_s"] / base["cpu_s"]
    table["speed_vs_first"] = table["fields_per_s"] / base["fields_per_s"]
    print(table.round(3).to_string(index=False))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

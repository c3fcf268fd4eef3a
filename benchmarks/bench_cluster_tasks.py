"""Where a Dask run's extra CPU goes: CPU inside each field task vs outside the tasks.

Runs ``FieldJob`` (classical features, QC) on the first N fields of a LoadData plate (e.g.
the one ``bench_cluster.py`` renders) in-process and on local clusters, each task timing
its own thread::

    python benchmarks/bench_cluster_tasks.py PLATE_48x1080/load_data.csv \
        --fields 8 --modes in-process,workers:1,workers:2

Prints per mode: wall seconds, CPU seconds of every process (user + system, workers reaped
when the cluster closes), the tasks' own thread CPU, what is left outside the tasks
(start-up, scheduler, nannies, event loops), and the first tasks' CPU (a process's first
field pays its imports).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TimedJob:
    """A field job that also returns its thread's CPU seconds (picklable for Dask)."""

    job: Any

    def __call__(self, field: Any) -> tuple[int, float]:
        started = time.thread_time()
        cells = self.job(field)
        return cells, time.thread_time() - started


def _cpu() -> float:
    times = os.times()
    return times.user + times.children_user + times.system + times.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plate", type=Path, help="a load_data.csv")
    parser.add_argument("--fields", type=int, default=8)
    parser.add_argument("--modes", default="in-process,workers:1,workers:2")
    args = parser.parse_args()

    from napari_phenoscope.io import index_plate, iter_fields
    from napari_phenoscope.profiling.execute import map_fields
    from napari_phenoscope.profiling.pipeline import FieldJob

    fields = index_plate(args.plate)
    work = Path(tempfile.mkdtemp(prefix="phenoscope-bench-tasks-"))
    for mode in args.modes.split(","):
        kind, _, count = mode.partition(":")
        job = FieldJob(
            out_dir=work / mode.replace(":", ""),
            feature_sets=("classical",),
            signature={"model": None},
            qc=True,
        )
        items = list(iter_fields(fields, list(range(args.fields))))
        load, cpu, wall = os.getloadavg()[0], _cpu(), time.perf_counter()
        results = map_fields(
            TimedJob(job), items, workers=int(count) if kind == "workers" else None,
            progress=False,
        )  # fmt: skip
        cpu, wall = _cpu() - cpu, time.perf_counter() - wall
        in_tasks = sum(seconds for _, seconds in results)
        row = {
            "mode": mode,
            "fields": args.fields,
            "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 2),
            "task_cpu_s": round(in_tasks, 2),
            "outside_tasks_cpu_s": round(cpu - in_tasks, 2),
            "first_tasks_cpu_s": [round(seconds, 2) for _, seconds in results[:4]],
            "load_start_end": [round(load, 1), round(os.getloadavg()[0], 1)],
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

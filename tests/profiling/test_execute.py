"""Fields in-process and on a real Dask cluster: same tables, resume across modes, a worker
killed mid-run, Ctrl-C, and one-line errors."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from skimage.draw import disk

from conftest import phenix_name, write_tiny_plate
from napari_phenoscope.cli import main
from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.errors import ClusterError
from napari_phenoscope.profiling import execute, pipeline

WELLS = ("A01", "A02", "B03")  # gabapentin-enacarbil, DMSO, DMSO on the compound map
SIZE = 96


def _write_cell_fields(project: Path, sites: tuple[int, ...]) -> Path:
    """Fields of 3-5 round cells (bright nuclei in DNA, bodies elsewhere), seeded per field."""
    folder = next((project / "images").glob("*/Images"))
    for index, well in enumerate(WELLS):
        for site in sites:
            rng = np.random.default_rng(100 * index + site)
            image = rng.normal(300, 20, (len(CHANNELS), SIZE, SIZE))
            centres = ((24, 24), (24, 70), (70, 26), (68, 72), (47, 47))
            for centre in centres[: 3 + (index + site) % 3]:
                body = disk(centre, 12, shape=(SIZE, SIZE))
                nucleus = disk(centre, 5, shape=(SIZE, SIZE))
                for channel in range(1, len(CHANNELS)):
                    image[channel][body] += rng.uniform(3000, 9000)
                image[0][nucleus] += rng.uniform(15000, 25000)
            stack = np.clip(image, 0, 65535).astype(np.uint16)
            for channel, plane in zip(CHANNELS, stack, strict=True):
                tifffile.imwrite(folder / phenix_name(well, site, channel), plane)
    return project


def _cell_plate(root: Path, n_sites: int) -> Path:
    sites = tuple(range(1, n_sites + 1))
    project = write_tiny_plate(root, wells=WELLS, sites=sites, size=SIZE)
    return _write_cell_fields(project, sites)


def _assert_same_outputs(left: pipeline.ProfileOutputs, right: pipeline.ProfileOutputs) -> None:
    """Same rows and columns; floats (features) within 1e-5, everything else exact."""
    pairs = [(left.single_cells, right.single_cells)]
    pairs += [(left.well_profiles[name], right.well_profiles[name]) for name in left.well_profiles]
    for left_path, right_path in pairs:
        pd.testing.assert_frame_equal(
            pd.read_parquet(left_path), pd.read_parquet(right_path), rtol=0, atol=1e-5
        )


# --- in-process and errors (fast) ----------------------------------------------------------


def test_in_process_map_returns_results_in_item_order():
    assert execute.map_fields(abs, [-3, 1, -2], progress=False) == [3, 1, 2]
    assert execute.map_fields(abs, [], progress=False, total=5) == []


@pytest.mark.parametrize(("cores", "expected"), [(1, None), (2, 2), (3, 3), (16, 4)])
def test_default_workers_use_every_core_up_to_four(monkeypatch, cores, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert execute.default_workers() == expected


def test_scheduler_and_workers_together_or_zero_workers_are_rejected(tiny_plate, tmp_path, capsys):
    with pytest.raises(ClusterError, match="not both"):
        execute.check_execution("tcp://127.0.0.1:8786", 2)
    with pytest.raises(ClusterError, match="at least 1"):
        execute.map_fields(abs, [1], workers=0, progress=False)
    code = main(["profile", str(tiny_plate), "--out", str(tmp_path / "o"), "--workers", "0"])
    assert code == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_unreachable_scheduler_is_a_one_line_error(tiny_plate, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(execute, "CONNECT_TIMEOUT_S", 2)
    address = "tcp://127.0.0.1:9"  # the discard port: nothing listens there
    argv = ["profile", str(tiny_plate), "--out", str(tmp_path / "o"), "--no-progress"]
    assert main([*argv, "--scheduler", address]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("phenoscope profile: error: cannot reach the Dask scheduler at")
    assert address in error and len(error.splitlines()) == 1


# --- a real LocalCluster of two worker processes (slow) -------------------------------------


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as local,
        distributed.Client(local) as client,
    ):
        yield local, client


def _worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


@pytest.mark.slow
def test_cluster_resumes_an_interrupted_in_process_run_with_identical_tables(
    cluster, tmp_path, monkeypatch
):
    local, client = cluster
    plate = _cell_plate(tmp_path / "project", n_sites=2)
    reference = pipeline.profile_plates(
        [plate], tmp_path / "reference", features="both", progress=False
    )

    out = tmp_path / "out"
    real_measure = pipeline.measure_field
    done: list[tuple] = []

    def interrupted(image, key, *args, **kwargs):
        if len(done) == 2:
            raise KeyboardInterrupt  # Ctrl-C during the third field
        done.append(key)
        return real_measure(image, key, *args, **kwargs)

    monkeypatch.setattr(pipeline, "measure_field", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pipeline.profile_plates([plate], out, features="both", progress=False)
    monkeypatch.undo()

    resumed = pipeline.profile_plates(
        [plate], out, features="both", progress=False, scheduler=local.scheduler_address
    )
    assert resumed.n_fields == reference.n_fields == len(WELLS) * 2
    assert resumed.n_fields_computed == resumed.n_fields - 2
    _assert_same_outputs(resumed, reference)
    # each worker that profiled a field loaded the encoder exactly once, however many fields
    loads = client.run(lambda: pipeline._load_encoder.cache_info().misses)
    assert max(loads.values()) == 1 and sum(loads.values()) >= 1


@pytest.mark.slow
def test_worker_killed_mid_run_loses_nothing(cluster, tmp_path):
    local, client = cluster
    plate = _cell_plate(tmp_path / "project", n_sites=10)
    n_fields = len(WELLS) * 10
    out = tmp_path / "out"
    pids_before = _worker_pids(client)
    killed: dict[str, object] = {}

    def kill_a_busy_worker() -> None:
        # the first worker seen with a field in hand is killed (tiny fields go fast: wait
        # for nothing else)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            busy = [worker for worker, keys in client.processing().items() if keys]
            if busy:
                pid = pids_before[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.update(pid=pid, finished=len(list((out / "fields").rglob("*.parquet"))))
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=kill_a_busy_worker, daemon=True)
    watcher.start()
    outputs = pipeline.profile_plates(
        [plate], out, features="classical", progress=False, scheduler=local.scheduler_address
    )
    watcher.join()
    assert killed, "the watcher never saw a busy worker"
    assert killed["finished"] < n_fields, "the worker was killed after the run's fields were done"
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed process
    assert killed["pid"] not in _worker_pids(client).values()

    assert outputs.n_fields == outputs.n_fields_computed == n_fields
    assert not list((out / "fields").rglob("*.tmp"))
    reference = pipeline.profile_plates(
        [plate], tmp_path / "reference", features="classical", progress=False
    )
    _assert_same_outputs(outputs, reference)


@pytest.mark.slow
def test_interrupt_cancels_the_pending_futures(cluster):
    local, client = cluster
    # Ctrl-C as the CLI gets it: Python's own handler (an earlier test's Qt event loop or
    # library may have left another one installed in this process)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            execute.map_fields(
                time.sleep, [0.5] * 40, scheduler=local.scheduler_address, progress=False
            )
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 30
    remaining = -1
    while time.monotonic() < deadline:
        remaining = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
        if remaining == 0:
            break
        time.sleep(0.2)
    assert remaining == 0, f"{remaining} tasks were left on the scheduler after Ctrl-C"


def _worker_setup(dask_worker) -> tuple[bool, str, bool]:
    import dask

    return (
        "phenoscope-malloc-tuning" in dask_worker.plugins,
        dask.config.get("distributed.admin.tick.interval"),
        dask.config.get("distributed.worker.profile.enabled"),
    )


def test_local_workers_reuse_freed_arrays_and_keep_their_chores_quiet():
    # the nanny's MALLOC_TRIM_THRESHOLD_ made glibc unmap every multi-MB array (+45% CPU on
    # 1080 px fields); the plugin puts glibc's thresholds back in every worker
    from napari_phenoscope.profiling.dask_workers import tune_malloc

    assert tune_malloc() in (True, False)  # never raises, glibc or not
    with execute._dask_client(None, 1) as client:
        setups = list(client.run(_worker_setup).values())
    assert setups == [(True, "1s", False)]

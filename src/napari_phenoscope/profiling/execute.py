"""Run a per-field function over fields: in this process, on a local Dask cluster, or on
an existing Dask scheduler.

The three modes share one contract, so a run can be interrupted in one and resumed in
another: ``function(item)`` does all of one item's work, including writing its result
(atomically) where a later run finds it, and returns something small. Nothing here knows
about images or encoders; ``profiling.pipeline`` hands it the per-field function.

On Dask, each item is one task. A worker that dies mid-task loses only its in-flight
tasks, which the scheduler gives to other workers (``distributed.scheduler.allowed-failures``
deaths per task before it gives up); the run then completes with the same results. The
progress bar counts finished items in every mode, and Ctrl-C (or any error) cancels the
futures still pending before the exception propagates.

Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536``; for glibc that also
pins the mmap threshold at 128 KiB, so each field's multi-MB arrays are mapped and unmapped
from the kernel (zeroed pages, page faults) instead of reusing the heap: on 1080 px fields
that alone added ~45% CPU, mostly system time (docs/scale.md). ``MallocTuning``, a worker
plugin registered on every cluster used here (local or existing, and workers that join
later; ``dask_workers``), puts glibc's own ceilings back (mmap threshold 32 MiB,
trim threshold 128 MiB).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from napari_phenoscope.errors import ClusterError

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Seconds to wait for an existing scheduler before giving up with a one-line error.
CONNECT_TIMEOUT_S = 20

#: Dask settings of the local cluster ``--workers`` starts: its background chores run while
#: a field takes seconds, in every process (scheduler, nannies, workers), and nobody reads
#: their output without a dashboard. distributed's defaults in brackets; docs/scale.md has
#: what they cost and the same settings for ``dask worker`` (``DASK_...`` variables).
QUIET_CLUSTER: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,  # statistical profiler, samples every 10 ms
    "distributed.admin.tick.interval": "1s",  # event-loop watchdog (20 ms)
    "distributed.admin.system-monitor.interval": "5s",  # dashboard CPU / memory (500 ms)
    "distributed.worker.memory.monitor-interval": "1s",  # worker memory guard (100 ms)
}


def check_execution(scheduler: str | None = None, workers: int | None = None) -> None:
    """Reject a scheduler address together with a worker count, or fewer than one worker.

    Raises
    ------
    ClusterError
        Naming the conflicting or invalid option.
    """
    if scheduler is not None and workers is not None:
        raise ClusterError(
            "give either --scheduler ADDRESS (an existing cluster) or --workers N "
            "(a local cluster), not both"
        )
    if workers is not None and int(workers) < 1:
        raise ClusterError(f"--workers must be at least 1, not {workers}")
    if scheduler is not None and not str(scheduler).strip():
        raise ClusterError("--scheduler needs an address such as tcp://host:8786")


def default_workers(most: int = 4) -> int | None:
    """Local workers that use this machine: one per usable core up to ``most``; None (run
    in-process) on a single core, where a cluster would only add start-up time."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    cores = min(cores, most)
    return cores if cores > 1 else None


def describe_execution(scheduler: str | None = None, workers: int | None = None) -> str:
    """Where the fields run, for messages: ``in-process``, ``2 local Dask workers`` ..."""
    if scheduler is not None:
        return f"Dask scheduler {scheduler}"
    if workers is not None:
        return f"{workers} local Dask worker{'s' if workers != 1 else ''}"
    return "in-process"


def map_fields(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    describe: Callable[[Item], str] | None = None,
    total: int | None = None,
    desc: str = "profiling",
) -> list[Result]:
    """Call ``function`` on every item and return the results in the order of ``items``.

    Parameters
    ----------
    function
        Does one item's work. On Dask it must be picklable (a module-level function or a
        dataclass instance with ``__call__``) and importable on the workers.
    items
        What to run, e.g. the field-index rows still to compute (small, picklable).
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``): the items run on its
        workers, which need this package and the files the items name.
    workers
        Start a local Dask cluster of this many worker processes (one thread each) for
        the duration of the call. Neither ``scheduler`` nor ``workers``: run here.
    progress
        Show a progress bar (tqdm, on stderr) over items.
    describe
        Item -> short label shown beside the bar in-process (e.g. ``plate A01 s1``).
    total
        Length of the bar when ``items`` are the remainder of a larger, resumed run (the
        bar then starts at ``total - len(items)``).
    desc
        The bar's label.

    Returns
    -------
    list
        ``function(item)`` per item.

    Raises
    ------
    ClusterError
        Both or neither-valid execution options, an unreachable scheduler, or a task that
        killed every worker it was given.
    Exception
        The first exception a task raised (pending tasks are cancelled first).
    """
    check_execution(scheduler, workers)
    total = len(items) if total is None else total
    if not items or (scheduler is None and workers is None):
        with _progress_bar(total, len(items), desc, progress) as bar:
            return _map_here(function, items, bar, describe)
    with _dask_client(scheduler, workers) as client:  # connect before the bar starts
        with _progress_bar(total, len(items), desc, progress) as bar:
            return _map_on_dask(client, function, items, bar, describe)


@contextmanager
def _progress_bar(total: int, todo: int, desc: str, show: bool) -> Iterator[Any]:
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=total - todo, unit="field", desc=desc, disable=not show)
    try:
        yield bar
    finally:
        bar.close()


def _map_here(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    bar: Any,
    describe: Callable[[Item], str] | None,
) -> list[Result]:
    results = []
    for item in items:
        if describe is not None:
            bar.set_postfix_str(describe(item))
        results.append(function(item))
        bar.update(1)
    return results


def _map_on_dask(
    client: Any,
    function: Callable[[Item], Result],
    items: Sequence[Item],
    bar: Any,
    describe: Callable[[Item], str] | None,
) -> list[Result]:
    from distributed import KilledWorker, as_completed

    # pure=False: a rerun must recompute, never reuse a result the scheduler still holds
    futures = client.map(function, list(items), pure=False)
    position = {future.key: index for index, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    try:
        for future in as_completed(futures):
            index = position[future.key]
            try:
                results[index] = future.result()  # re-raises the task's own exception
            except KilledWorker as error:
                label = describe(items[index]) if describe is not None else repr(items[index])
                raise ClusterError(
                    f"{label} was running on every worker that died "
                    f"({error}); out of memory? Try fewer threads per worker"
                ) from None
            future.release()  # the result is here; let the workers forget it
            bar.update(1)
    except BaseException:  # Ctrl-C, or a task's error: stop the rest before propagating
        client.cancel(futures, force=True)
        raise
    return results


@contextmanager
def _dask_client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A client of the given scheduler, or of a local cluster started (and closed) here."""
    import dask
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as error:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    else:
        # One thread per worker: torch, NumPy and the segmentation each get one core, and
        # the nanny sets OMP_NUM_THREADS=1 so that workers do not oversubscribe the cores.
        with dask.config.set(QUIET_CLUSTER):
            cluster = LocalCluster(
                n_workers=int(workers),
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # any free port: never clash with another cluster
                scheduler_kwargs={"dashboard": False},
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
    try:
        from napari_phenoscope.profiling.dask_workers import MallocTuning

        client.register_plugin(MallocTuning())
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

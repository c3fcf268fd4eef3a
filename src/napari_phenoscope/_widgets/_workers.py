"""Small helpers the docks share around napari thread workers and messages."""

from __future__ import annotations

import inspect
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

LABELS_NUCLEI = "nuclei"
LABELS_CELLS = "cells"


def keep_triton_out_beside_mesa_llvm() -> bool:
    """Stop torch from importing triton into a process that already runs Mesa's LLVM.

    timm imports torchvision, which imports ``torch._dynamo``, which imports triton when it
    is installed. Triton's own LLVM, loaded after Mesa's ``libLLVM`` (software OpenGL:
    llvmpipe under Xvfb, in VMs and remote desktops), crashes the process with a
    segmentation fault. Nothing here compiles kernels with triton, so once a viewer has
    mapped ``libLLVM``, ``sys.modules["triton"] = None`` makes torch see triton as absent.
    Call this after the viewer exists and before the first import of timm.

    Returns
    -------
    bool
        Whether triton was kept out.
    """
    if "triton" in sys.modules or not sys.platform.startswith("linux"):
        return False
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    if "libLLVM" not in maps:
        return False
    # process-wide on purpose: any torch import after this point would load triton's LLVM
    # and crash the whole napari; only done when Mesa's LLVM is already mapped (see above)
    sys.modules["triton"] = None  # type: ignore[assignment]
    return True


def import_models() -> None:
    """Import torch and timm now, in the GUI thread (once per process; later calls are free).

    Called when the Profile dock opens: an import in a worker thread holds the GIL for about
    a second, freezing the viewer mid-run, while here the dock's opening takes that second.
    Importing is the only effect: nothing process-wide is changed.
    """
    import napari_phenoscope.models  # noqa: F401


_startup_frozen = False


def freeze_startup_objects() -> None:
    """Move every object alive to the permanent GC generation, once per process.

    Only for Phenoscope's own processes (``phenoscope demo``, ``view``, the tour: the
    ``app`` package calls it), never when a dock opens in someone else's napari: it is
    process-wide, and would leave other plugins' reference cycles among those objects
    uncollected. A full garbage collection (run in whichever thread allocates, often the
    GUI thread) scans every object of napari, Qt, torch and pandas: ~440 ms measured in the
    GUI responsiveness test, ~90 ms with those objects frozen (``gc.freeze``: they are still
    freed when unreferenced; only reference cycles among them are never collected).
    """
    global _startup_frozen
    if not _startup_frozen:
        import gc

        gc.collect()
        gc.freeze()
        _startup_frozen = True


def notify_error(message: str) -> None:
    """Show a one-line error notification in napari."""
    from napari.utils.notifications import show_error

    show_error(message)


def notify_info(message: str) -> None:
    """Show a one-line information notification in napari."""
    from napari.utils.notifications import show_info

    show_info(message)


def wait_until(predicate: Callable[[], bool], timeout: float = 600.0) -> bool:
    """Process Qt events until ``predicate()`` holds or ``timeout`` seconds pass.

    Used by scripts (the tour) that drive the docks without a running event loop; returns
    whether the predicate held.
    """
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        QApplication.processEvents()
        time.sleep(0.01)
    return True


class InOrder:
    """Run callbacks one at a time, in arrival order, even when one re-enters the event loop.

    napari's progress bars and layer controls call ``QApplication.processEvents()``, so a
    worker's "finished" can otherwise be handled in the middle of the handler of its last
    "yielded" value.
    """

    def __init__(self) -> None:
        self._queue: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._busy = False

    def wrap(self, callback: Callable[..., None]) -> Callable[..., None]:
        """A callable that queues ``callback`` instead of running it at once."""
        return lambda *args: self.submit(callback, *args)

    def submit(self, callback: Callable[..., None], *args: Any) -> None:
        """Queue a call; run the queue unless a queued call is already running."""
        self._queue.append((callback, args))
        if self._busy:
            return
        self._busy = True
        try:
            while self._queue:
                queued, queued_args = self._queue.popleft()
                queued(*queued_args)
        finally:
            self._busy = False


def start_worker(
    generator_function: Callable[..., Any],
    *args: Any,
    on_yield: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
    on_finished: Callable[[], None],
    **kwargs: Any,
) -> Any:
    """Run a (generator) function in a napari thread worker and wire its signals.

    ``on_yield`` receives each yielded value (or the return value of a plain function);
    errors go to ``on_error`` (one line in the dock) rather than to a traceback
    notification.
    """
    from napari.qt.threading import create_worker
    from superqt.utils import FunctionWorker, GeneratorWorker

    # superqt's worker classes, not napari's: those also relay errors as tracebacks
    plain = GeneratorWorker if inspect.isgeneratorfunction(generator_function) else FunctionWorker
    in_order = InOrder()
    connect = {
        "yielded": in_order.wrap(on_yield),
        "errored": in_order.wrap(on_error),
        "finished": in_order.wrap(on_finished),
    }
    if plain is FunctionWorker:
        connect["returned"] = connect.pop("yielded")
    # an "errored" handler of our own also stops superqt re-raising in the main thread
    worker = create_worker(
        generator_function,
        *args,
        _start_thread=False,
        _worker_class=plain,
        _connect=connect,
        **kwargs,
    )
    worker.start()
    return worker

"""Small helpers the docks share around napari thread workers and messages."""

from __future__ import annotations

import inspect
import time
from collections import deque
from collections.abc import Callable
from typing import Any

LABELS_NUCLEI = "nuclei"
LABELS_CELLS = "cells"


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

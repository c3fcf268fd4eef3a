"""Run a computation in a child process, so that cancelling it really stops it.

UMAP layouts (numba) and mAP nulls run in compiled loops that a thread cannot interrupt:
a cancelled thread worker only hides its result while both cores keep burning until it
ends. ``run_interruptible`` runs the function in a fresh ``spawn`` child instead (nothing of
the viewer is inherited: no Qt state, no lock held by another thread, tqdm's included),
relays its progress, and kills it within ``poll_s`` of ``cancel`` being set.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

Progress = Callable[[str, float], None]


class Cancelled(Exception):
    """The computation was cancelled; its child process is gone."""


def _child(connection: Connection, function: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    """Child side: run ``function``, sending progress, then its result or its error."""
    if kwargs.pop("_progress", False):
        kwargs["progress"] = lambda message, fraction: connection.send(
            ("progress", message, fraction)
        )
    try:
        result = function(*args, **kwargs)
    except BaseException as error:  # sent to the parent, which raises it
        try:
            connection.send(("error", error))
        except Exception:  # an exception that does not pickle: keep its text
            connection.send(("error", RuntimeError(f"{type(error).__name__}: {error}")))
    else:
        connection.send(("result", result))
    finally:
        connection.close()


def run_interruptible(
    function: Callable[..., Any],
    *args: Any,
    cancel: threading.Event,
    progress: Progress | None = None,
    poll_s: float = 0.05,
    **kwargs: Any,
) -> Any:
    """Call ``function(*args, **kwargs)`` in a child process; kill it once ``cancel`` is set.

    Parameters
    ----------
    function
        A module-level function (it is pickled by name); its arguments and result must
        pickle.
    cancel
        Set from any thread to stop the computation: the child is killed within ``poll_s``.
    progress
        Receives ``(message, fraction)`` from the child: passed to ``function`` as its
        ``progress`` argument.
    poll_s
        How often the cancel flag is checked, in seconds.

    Returns
    -------
    The function's result.

    Raises
    ------
    Cancelled
        If ``cancel`` was set before the function returned.
    Exception
        Whatever the function raised (re-raised here), or ``RuntimeError`` if the child
        died without an answer.
    """
    if cancel.is_set():
        raise Cancelled("cancelled before it started")
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    options = {**kwargs, "_progress": progress is not None}
    child = context.Process(target=_child, args=(sender, function, args, options), daemon=True)
    child.start()
    sender.close()  # the child holds the only writing end: EOF once it is gone
    try:
        while True:
            if cancel.is_set():
                raise Cancelled("cancelled")
            if not receiver.poll(poll_s):
                continue
            try:
                kind, *payload = receiver.recv()
            except EOFError:
                child.join(timeout=5)  # the pipe closes a moment before the exit code is set
                raise RuntimeError(
                    f"the process computing {function.__name__} ended without a result "
                    f"(exit code {child.exitcode})"
                ) from None
            if kind == "progress":
                if progress is not None:
                    progress(*payload)
            elif kind == "error":
                raise payload[0]
            else:
                return payload[0]
    finally:
        if child.is_alive():
            child.kill()
        child.join(timeout=5)
        receiver.close()

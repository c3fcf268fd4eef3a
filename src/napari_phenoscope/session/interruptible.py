"""Run a computation in a child process, so that cancelling it really stops it.

UMAP layouts (numba) and mAP nulls run in compiled loops that a thread cannot interrupt:
a cancelled thread worker only hides its result while both cores keep burning until it
ends. ``InterruptibleProcess`` runs such calls in a ``spawn`` child instead (nothing of the
viewer is inherited: no Qt state, no lock held by another thread, tqdm's included), relays
their progress, and kills the child within ``poll_s`` of ``cancel`` being set.

The child stays alive between calls: numba compiles UMAP's functions once per process
(tens of seconds on two busy cores), so a fresh child per layout would pay that every
time. Only a cancelled (or broken) call costs a new child. ``run_interruptible`` is the
one-shot form: a child for one call, gone when it returns.
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


def _serve(connection: Connection) -> None:
    """Child side: answer calls ``(function, args, kwargs)`` until the parent hangs up."""
    while True:
        try:
            function, args, kwargs = connection.recv()
        except EOFError:
            return
        except BaseException as error:  # a request that does not unpickle here
            _send_error(connection, error)
            continue
        if kwargs.pop("_progress", False):
            kwargs["progress"] = lambda message, fraction: connection.send(
                ("progress", message, fraction)
            )
        try:
            result = function(*args, **kwargs)
        except BaseException as error:  # sent to the parent, which raises it
            _send_error(connection, error)
        else:
            connection.send(("result", result))


def _send_error(connection: Connection, error: BaseException) -> None:
    try:
        connection.send(("error", error))
    except Exception:  # an exception that does not pickle: keep its text
        connection.send(("error", RuntimeError(f"{type(error).__name__}: {error}")))


class InterruptibleProcess:
    """A child process that computes one call at a time; cancelling a call kills it.

    Parameters
    ----------
    poll_s
        How often a running call checks its cancel flag, in seconds.

    Examples
    --------
    >>> import threading
    >>> process = InterruptibleProcess()
    >>> process.run(max, 3, 7, cancel=threading.Event())
    7
    >>> process.close()
    """

    def __init__(self, poll_s: float = 0.05) -> None:
        self.poll_s = poll_s
        self._lock = threading.Lock()  # one call at a time, a cancelled one cleaned up first
        self._process: Any = None
        self._connection: Connection | None = None

    @property
    def alive(self) -> bool:
        """Whether a (warm) child process exists."""
        return self._process is not None and self._process.is_alive()

    def run(
        self,
        function: Callable[..., Any],
        *args: Any,
        cancel: threading.Event,
        progress: Progress | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call ``function(*args, **kwargs)`` in the child; kill it once ``cancel`` is set.

        Parameters
        ----------
        function
            A module-level function (it is pickled by name); its arguments and result must
            pickle.
        cancel
            Set from any thread to stop the computation: the child is killed within
            ``poll_s`` (the next call starts a new one).
        progress
            Receives ``(message, fraction)`` from the child: passed to ``function`` as its
            ``progress`` argument.

        Returns
        -------
        The function's result.

        Raises
        ------
        Cancelled
            If ``cancel`` was set before the function returned.
        Exception
            Whatever the function raised (re-raised here; the child stays warm), or
            ``RuntimeError`` if the child died without an answer.
        """
        with self._lock:
            if cancel.is_set():
                raise Cancelled("cancelled before it started")
            process, connection = self._connect()
            answered = False
            try:
                connection.send((function, args, {**kwargs, "_progress": progress is not None}))
                kind, payload = self._answer(process, connection, function, cancel, progress)
                answered = True
            finally:
                if not answered:  # cancelled, died, or interrupted: never reuse this child
                    self._kill()
            if kind == "error":
                raise payload
            return payload

    def _answer(
        self,
        process: Any,
        connection: Connection,
        function: Callable[..., Any],
        cancel: threading.Event,
        progress: Progress | None,
    ) -> tuple[str, Any]:
        while True:
            if cancel.is_set():
                raise Cancelled("cancelled")
            if not connection.poll(self.poll_s):
                continue
            try:
                kind, *payload = connection.recv()
            except (EOFError, OSError):  # the child died (or was closed under us)
                process.join(timeout=5)  # the pipe closes before the exit code is set
                raise RuntimeError(
                    f"the process computing {function.__name__} ended without a result "
                    f"(exit code {process.exitcode})"
                ) from None
            if kind == "progress":
                if progress is not None:
                    progress(*payload)
            else:
                return kind, payload[0]

    def _connect(self) -> tuple[Any, Connection]:
        if self.alive and self._connection is not None:
            return self._process, self._connection
        self._kill()
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe(duplex=True)
        self._process = context.Process(target=_serve, args=(child_end,), daemon=True)
        self._process.start()
        child_end.close()  # the child holds the only other end: EOF once it is gone
        self._connection = parent_end
        return self._process, parent_end

    def _kill(self) -> None:
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(timeout=5)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        """End the child (a call under way is killed; its caller sees it die)."""
        process, connection = self._process, self._connection
        if connection is not None and process is not None and process.is_alive():
            if self._lock.acquire(blocking=False):  # idle: let it leave on its own
                try:
                    connection.close()
                    process.join(timeout=5)
                finally:
                    self._lock.release()
        self._kill()


def run_interruptible(
    function: Callable[..., Any],
    *args: Any,
    cancel: threading.Event,
    progress: Progress | None = None,
    poll_s: float = 0.05,
    **kwargs: Any,
) -> Any:
    """Call ``function(*args, **kwargs)`` in a new child process, killed once ``cancel`` is set.

    The one-shot form of :meth:`InterruptibleProcess.run`: the child is gone when this
    returns or raises.
    """
    process = InterruptibleProcess(poll_s)
    try:
        return process.run(function, *args, cancel=cancel, progress=progress, **kwargs)
    finally:
        process.close()

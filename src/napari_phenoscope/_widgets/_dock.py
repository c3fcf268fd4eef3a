"""The wiring every Phenoscope dock shares: viewer, session, one worker, status, errors.

A dock subclasses ``Dock`` and gets: the viewer and its shared state (``self.state``: the
``PlateSession`` and its events), ``current_session()``, a wrapped status ``QLabel``, the
running state of its one worker (``running``), runs whose results are dropped once they
are cancelled, superseded or the dock is gone (``start``), and ``fail`` (the message in the
dock and as a napari notification). It subscribes to the session events by naming its
handlers in ``subscribe``; docks never import each other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qtpy.QtWidgets import QLabel, QWidget

from napari_phenoscope._widgets._viewer import current_session
from napari_phenoscope._widgets._workers import notify_error, start_worker
from napari_phenoscope.session.interruptible import InterruptibleProcess
from napari_phenoscope.session.model_imports import keep_triton_out_beside_mesa_llvm
from napari_phenoscope.session.state import PlateSession, state_of

if TYPE_CHECKING:
    import napari

NO_PLATE = "No plate loaded: open one in the Plate navigator (or drop a plate on napari)."
NO_PROFILES = "No well profiles yet: profile the plate (Profile dock or pipeline) first."


class Dock(QWidget):
    """Base of the Phenoscope docks (see the module docstring).

    Parameters
    ----------
    napari_viewer
        The viewer the dock belongs to.
    no_plate
        Status text while no plate is open.
    """

    def __init__(self, napari_viewer: napari.Viewer, no_plate: str = NO_PLATE) -> None:
        super().__init__()
        keep_triton_out_beside_mesa_llvm()  # before anything imports timm (see there)
        self.viewer = napari_viewer
        self.state = state_of(napari_viewer)
        self.worker: Any = None
        self._cancel = threading.Event()
        self._child: InterruptibleProcess | None = None
        self.status = QLabel(no_plate)
        self.status.setWordWrap(True)

    # --- session ---------------------------------------------------------------------
    def current_session(self) -> PlateSession | None:
        """The viewer's session (adopting a plate opened by drag and drop)."""
        return current_session(self.viewer)

    def subscribe(
        self,
        session_changed: Callable[[PlateSession | None], None] | None = None,
        field_changed: Callable[[int], None] | None = None,
        cells_changed: Callable[[], None] | None = None,
        selection_changed: Callable[[list], None] | None = None,
        model_changed: Callable[[], None] | None = None,
    ) -> None:
        """Connect handlers to the session events; ``session_changed`` sees the open plate."""
        events = self.state.events
        for signal, handler in (
            (events.session_changed, session_changed),
            (events.field_changed, field_changed),
            (events.cells_changed, cells_changed),
            (events.selection_changed, selection_changed),
            (events.model_changed, model_changed),
        ):
            if handler is not None:
                signal.connect(handler)
        session = self.current_session()
        if session is not None and session_changed is not None:
            session_changed(session)

    def bind_model_settings(self, weights_edit: Any, device_combo: Any = None) -> None:
        """Make a weights line edit (and a device combo box) views of the session's settings.

        What the user types lands in ``state.weights_path`` / ``state.device``; what a
        script or another dock sets there shows in the widgets. Docks read the settings
        from the state, never from the widgets.
        """
        state = self.state

        def show_settings() -> None:
            path = "" if state.weights_path is None else str(state.weights_path)
            if weights_edit.text().strip() != path:
                weights_edit.setText(path)
            if device_combo is not None and device_combo.currentText() != state.device:
                device_combo.setCurrentText(state.device)

        def weights_typed(text: str) -> None:
            state.weights_path = text.strip() or None

        show_settings()
        weights_edit.textChanged.connect(weights_typed)
        if device_combo is not None:
            device_combo.currentTextChanged.connect(
                lambda text: setattr(state, "device", text) if text else None
            )
        state.events.model_changed.connect(show_settings)
        # the state outlives a dock: stop updating widgets that are gone
        self.destroyed.connect(lambda *_: state.events.model_changed.disconnect(show_settings))

    def weights_path(self) -> str | None:
        """The session's weights path as the workers take it (None: the bundled weights)."""
        path = self.state.weights_path
        return None if path is None else str(path)

    # --- the worker ------------------------------------------------------------------
    @property
    def child_process(self) -> InterruptibleProcess:
        """The dock's child process for work that cancel must stop (started on first use,
        kept warm between runs, killed by cancel and when the dock is deleted)."""
        if self._child is None:
            self._child = InterruptibleProcess()
            self.destroyed.connect(lambda *_, child=self._child: child.close())
        return self._child

    @property
    def running(self) -> bool:
        """Whether the dock's worker is under way."""
        return self.worker is not None

    def start(
        self,
        function: Callable[..., Any],
        *args: Any,
        on_result: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
        on_finished: Callable[[], None],
        finish_cancelled: bool = False,
        cancel: threading.Event | None = None,
    ) -> threading.Event:
        """Run ``function(*args)`` in a worker; its results stop counting once cancelled.

        Results and errors arriving after ``cancel``, after a newer ``start`` or after the
        dock was deleted are dropped (they must not touch deleted Qt objects). The worker
        is forgotten before ``on_finished`` runs; ``finish_cancelled`` says whether
        ``on_finished`` still runs for a cancelled run (a dock that reports how far a
        cancelled run got) or not (a dock that freed itself when cancelling).

        ``cancel`` is the run's cancel event when ``function`` polls it (it is among
        ``args``); a new one otherwise.

        Returns
        -------
        threading.Event
            The run's cancel event (also ``self._cancel``).
        """
        cancel = threading.Event() if cancel is None else cancel
        self._cancel = cancel
        self.destroyed.connect(lambda *_, event=cancel: event.set())

        def result(value: Any) -> None:
            if not cancel.is_set():
                on_result(value)

        def errored(error: BaseException) -> None:
            if not cancel.is_set():
                on_error(error)

        def finished() -> None:
            if cancel.is_set() and not finish_cancelled:
                return  # the dock was freed when this run was cancelled
            if self._cancel is cancel:
                self.worker = None
            on_finished()

        self.worker = start_worker(
            function, *args, on_yield=result, on_error=errored, on_finished=finished
        )
        return cancel

    # --- messages --------------------------------------------------------------------
    def fail(self, message: str, notify: bool = True) -> bool:
        """Show why something cannot be done, in the dock (and as a notification)."""
        self.status.setText(message)
        if notify:
            notify_error(message)
        return False

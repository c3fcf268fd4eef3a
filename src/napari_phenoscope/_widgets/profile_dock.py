"""Profile dock: segment cells and embed them (ViT and/or classical features) in a worker.

The field, its well or its whole plate is profiled one field at a time in a napari thread
worker, so the viewer stays responsive and Cancel takes effect between fields. Each
finished field lands in the shared session (labels, cells, counts) and, when it is the
field on show, as "nuclei" and "cells" Labels layers whose ``features`` hold the cells.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import napari_phenoscope.session.compute as _compute
from napari_phenoscope._reader import METADATA_KEY
from napari_phenoscope._widgets._viewer import current_session, field_key, tag_field_layer
from napari_phenoscope._widgets._workers import (
    LABELS_CELLS,
    LABELS_NUCLEI,
    keep_triton_out_beside_mesa_llvm,
    notify_error,
    one_line,
    start_worker,
)
from napari_phenoscope.constants import PLATE, SITE, WELL
from napari_phenoscope.errors import PhenoscopeError
from napari_phenoscope.session.compute import (
    DEVICES,
    FEATURE_SETS,
    SCOPES,
    FieldFailure,
    FieldProfile,
    adopt_pipeline_output,
    fields_in_scope,
    labels_features,
    record_profile,
)
from napari_phenoscope.session.state import PlateSession, state_of

if TYPE_CHECKING:
    import napari

SCOPE_TEXT = {"field": "current field", "well": "current well", "plate": "whole plate"}
FEATURE_TEXT = {"vit": "ViT embeddings", "classical": "classical features", "both": "both"}
NO_PLATE = "No plate loaded: open one in the Plate navigator (or drop a plate on napari)."


def show_field_labels(viewer: Any, session: PlateSession) -> bool:
    """Add or refresh the "nuclei" and "cells" Labels layers of the field on show.

    Returns False (and adds nothing) if that field has not been segmented yet.
    """
    key = field_key(session)
    if key not in session.labels:
        return False
    nuclei, cells = session.labels[key]
    table = _field_cells(session, key)
    columns = [c for names in session.feature_columns.values() for c in names]
    features = labels_features(table, columns) if table is not None else None
    scale = field_image_scale(viewer)
    for name, data, opacity in ((LABELS_NUCLEI, nuclei, 0.5), (LABELS_CELLS, cells, 0.35)):
        if name in viewer.layers:
            layer = viewer.layers[name]
            layer.data = data
        else:
            layer = viewer.add_labels(data, name=name, opacity=opacity, scale=scale)
        if features is not None:
            layer.features = features
        tag_field_layer(layer, key, name)
    viewer.layers[LABELS_CELLS].contour = 2
    return True


def field_image_scale(viewer: Any) -> tuple[float, ...] | None:
    """Scale of the field's channel layers, so that overlays line up with them."""
    for layer in viewer.layers:
        if layer.__class__.__name__ == "Image" and layer.ndim == 2 and not layer.rgb:
            return tuple(layer.scale)
    return None


def _field_cells(session: PlateSession, key: tuple[str, str, int]):
    if session.cells is None:
        return None
    plate, well, site = key
    cells = session.cells
    return cells[(cells[PLATE] == plate) & (cells[WELL] == well) & (cells[SITE] == site)]


def select_cell_at(viewer: Any, position: tuple[float, ...]) -> tuple[str, str, int, int] | None:
    """Select the cell under a world position of the "cells" layer (None on background)."""
    session = state_of(viewer).session
    if session is None or LABELS_CELLS not in viewer.layers:
        return None
    layer = viewer.layers[LABELS_CELLS]
    value = layer.get_value(position, world=True)
    if value is None or int(value) == 0:
        return None
    plate, well, site = layer.metadata[METADATA_KEY]["field_key"]
    selected = (str(plate), str(well), int(site), int(value))
    session.selected = [selected]
    layer.selected_label = int(value)
    state_of(viewer).events.selection_changed.emit([selected])
    return selected


def _click_selects_cell(viewer: Any, event: Any):
    """Viewer mouse callback: a click without drag selects the cell under the cursor."""
    if event.type != "mouse_press":
        return
    position = tuple(event.position)
    dragged = False
    yield
    while event.type == "mouse_move":
        dragged = True
        yield
    if not dragged:
        select_cell_at(viewer, position)


def enable_cell_clicks(viewer: Any) -> None:
    """Let a click on a segmented cell select it (once per viewer, whichever dock asks)."""
    if _click_selects_cell not in viewer.mouse_drag_callbacks:
        viewer.mouse_drag_callbacks.append(_click_selects_cell)


class ProfileDock(QWidget):
    """Dock widget: segment and profile the current field, well or plate."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        keep_triton_out_beside_mesa_llvm()  # before anything imports timm (see there)
        self.viewer = napari_viewer
        self.state = state_of(napari_viewer)
        self.worker: Any = None
        self._cancel = threading.Event()
        self._progress: Any = None
        self._run_session: PlateSession | None = None
        self._done = 0
        self._total = 0
        self._cells_found = 0
        self._failures: list[str] = []

        self.scope_combo = QComboBox()
        for scope in SCOPES:
            self.scope_combo.addItem(SCOPE_TEXT[scope], scope)
        self.feature_combo = QComboBox()
        for name in FEATURE_SETS:
            self.feature_combo.addItem(FEATURE_TEXT[name], name)
        self.device_combo = QComboBox()
        self.device_combo.addItems(list(DEVICES))
        self.weights_edit = QLineEdit()
        self.weights_edit.setPlaceholderText("bundled MAE ViT-Tiny")
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.run_button.clicked.connect(lambda: self.run())
        self.cancel_button.clicked.connect(self.cancel)
        self.load_button = QPushButton("Load pipeline output…")
        self.load_button.setToolTip("Cells and well profiles written by `phenoscope profile`")
        self.load_button.clicked.connect(self._browse_output)
        self.progress_bar = QProgressBar()
        self.progress_bar.setValue(0)
        self.status = QLabel(NO_PLATE)
        self.status.setWordWrap(True)
        self.field_label = QLabel("")
        self.field_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Profile", self.scope_combo)
        form.addRow("Features", self.feature_combo)
        form.addRow("Device", self.device_combo)
        form.addRow("Weights", self.weights_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.load_button)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.field_label)
        layout.addStretch(1)

        self.state.events.field_changed.connect(self._field_changed)
        self.state.events.session_changed.connect(self._session_changed)
        enable_cell_clicks(napari_viewer)
        session = current_session(napari_viewer)
        if session is not None:
            self._session_changed(session)

    # --- public ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether a profiling worker is under way."""
        return self.worker is not None

    def run(
        self, scope: str | None = None, features: str | None = None, device: str | None = None
    ) -> bool:
        """Start profiling (choices default to the combo boxes); False if it cannot start."""
        if scope is not None:
            self.scope_combo.setCurrentIndex(SCOPES.index(scope))
        if features is not None:
            self.feature_combo.setCurrentIndex(FEATURE_SETS.index(features))
        if device is not None:
            self.device_combo.setCurrentText(device)
        session = current_session(self.viewer)
        if session is None:
            return self._fail(NO_PLATE)
        if self.running:
            self.status.setText("Already profiling: wait for it to finish or cancel it.")
            return False
        indices = fields_in_scope(session.fields, session.current, self.scope_combo.currentData())
        self._cancel = threading.Event()
        self._run_session = session
        self._done, self._total, self._cells_found = 0, len(indices), 0
        self._failures = []
        self.progress_bar.setRange(0, len(indices))
        self.progress_bar.setValue(0)
        from napari.utils import progress

        self._progress = progress(total=len(indices), desc="Profiling fields")
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Profiling {len(indices)} field(s)…")
        self.worker = start_worker(
            _compute.iter_profiles,
            session.fields,
            indices,
            self.feature_combo.currentData(),
            self.device_combo.currentText(),
            self._cancel,
            self.weights_edit.text().strip() or None,
            on_yield=self._field_done,
            on_error=self._errored,
            on_finished=self._finished,
        )
        return True

    def load_output(self, out_dir: str | Path) -> bool:
        """Load cells and well profiles written by ``phenoscope profile`` (in a worker)."""
        session = current_session(self.viewer)
        if session is None:
            return self._fail(NO_PLATE)
        if self.running:
            self.status.setText("Busy: wait for the current run or cancel it.")
            return False
        self.run_button.setEnabled(False)
        self.status.setText(f"Reading {out_dir}…")

        def adopt(tables: tuple) -> None:
            if session is not self.state.session:
                return
            try:
                n_cells = adopt_pipeline_output(session, *tables)
            except PhenoscopeError as error:
                self._fail(one_line(error))
                return
            wells = ", ".join(f"{k}: {len(v)} wells" for k, v in session.well_profiles.items())
            self.status.setText(f"Loaded {n_cells} cells; well profiles {wells or 'none'}.")
            self.state.events.cells_changed.emit()

        self.worker = start_worker(
            _compute.read_pipeline_output,
            out_dir,
            on_yield=adopt,
            on_error=lambda error: self._fail(one_line(error)),
            on_finished=self._set_idle,
        )
        return True

    def _browse_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a phenoscope profile output")
        if folder:
            self.load_output(folder)

    def cancel(self) -> None:
        """Stop after the field in progress; nothing computed after this lands."""
        if self.worker is None:
            return
        self._cancel.set()
        self.worker.quit()
        self.status.setText(f"Cancelling after {self._done} of {self._total} field(s)…")

    # --- worker signals --------------------------------------------------------------
    def _field_done(self, result: FieldProfile | FieldFailure) -> None:
        session = self._run_session
        if self._cancel.is_set() or session is None or session is not self.state.session:
            return
        self._done += 1
        self.progress_bar.setValue(self._done)
        if self._progress is not None:
            self._progress.update(1)
        plate, well, site = result.key
        if isinstance(result, FieldFailure):
            self._failures.append(f"{plate} {well} site {site}: {result.message}")
            self.status.setText(self._failures[-1])
            return
        record_profile(session, result)
        self._cells_found += len(result.table)
        if result.key == field_key(session):
            show_field_labels(self.viewer, session)
        self.status.setText(
            f"Profiled {self._done} of {self._total} field(s): {self._cells_found} cells"
        )
        self.state.events.cells_changed.emit()

    def _errored(self, error: BaseException) -> None:
        message = one_line(error)
        self._failures.append(message)
        notify_error(message)

    def _finished(self) -> None:
        cancelled = self._cancel.is_set()
        self.worker = None
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        if cancelled:
            text = f"Cancelled after {self._done} of {self._total} field(s)"
        else:
            text = f"Profiled {self._done} of {self._total} field(s)"
        text += f": {self._cells_found} cells"
        if self._failures:
            text += f". {len(self._failures)} error(s), last: {self._failures[-1]}"
        self.status.setText(text)
        session = self._run_session
        if cancelled or session is None or session.cells is None or session.cells.empty:
            self._set_idle()
            return
        self._aggregate(session, text)

    def _aggregate(self, session: PlateSession, run_text: str) -> None:
        """Aggregate the session's cells to well profiles in a worker (then idle again)."""
        self.status.setText(f"{run_text}. Aggregating well profiles…")

        def done(profiles: dict) -> None:
            if session is not self.state.session:
                return
            session.well_profiles.update(profiles)
            wells = len(next(iter(profiles.values()))) if profiles else 0
            self.status.setText(f"{run_text}. Well profiles: {wells} wells.")
            self.state.events.cells_changed.emit()

        def failed(error: BaseException) -> None:
            # expected while only some wells are profiled (no negative controls yet): a
            # note in the dock, not an error popup
            self.status.setText(f"{run_text}. Well profiles not computed: {one_line(error)}")

        self.worker = start_worker(
            _compute.aggregate_wells,
            session.cells,
            dict(session.feature_columns),
            on_yield=done,
            on_error=failed,
            on_finished=self._set_idle,
        )

    def _set_idle(self) -> None:
        self.worker = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    # --- viewer reactions ------------------------------------------------------------
    def _fail(self, message: str) -> bool:
        self.status.setText(message)
        notify_error(message)
        return False

    def _session_changed(self, session: PlateSession | None) -> None:
        if self.running:
            self.cancel()
        if session is None:
            self.status.setText(NO_PLATE)
            return
        done = len(session.labels)
        self.status.setText(
            f"{len(session.fields)} fields; {done} profiled. Choose what to profile and Run."
        )

    def _field_changed(self, index: int) -> None:
        session = self.state.session
        if session is None:
            self.field_label.setText("")
            return
        plate, well, site = field_key(session, index)
        if show_field_labels(self.viewer, session):
            cells = session.labels[(plate, well, site)][1]
            count = len(np.unique(cells)) - 1
            self.field_label.setText(f"{well} site {site}: {count} segmented cells.")
        else:
            self.field_label.setText(f"{well} site {site}: not segmented in this session.")

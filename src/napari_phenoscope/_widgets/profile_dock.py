# Long (~460 lines): two inputs (a plate's fields or the viewer's layers) and two loaders
# (pipeline output, profile tables) through one worker; what it computes is session/compute.py.
"""Profile dock: segment cells and embed them (ViT and/or classical features) in a worker.

Its form is magicgui: the five channel layers and the cells come from the viewer's layers
(``_layer_inputs``); cells from a Labels layer (another tool's, or one painted by hand) are
profiled exactly as they are, on the field on show, every time Run is pressed.

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
from magicgui.widgets import ComboBox, Container, LineEdit
from qtpy.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

import napari_phenoscope.session.compute as _compute
from napari_phenoscope._widgets._cells import enable_cell_clicks, show_field_labels
from napari_phenoscope._widgets._dock import NO_PLATE, Dock
from napari_phenoscope._widgets._layer_inputs import LayerInputs
from napari_phenoscope._widgets._workers import notify_error
from napari_phenoscope.errors import PhenoscopeError, one_line
from napari_phenoscope.io.profile_tables import ProfileTable, describe, load_profile_table
from napari_phenoscope.profiling.outputs import read_pipeline_output
from napari_phenoscope.session.compute import (
    FEATURE_SETS,
    SCOPES,
    FieldFailure,
    FieldProfile,
    adopt_pipeline_output,
    fields_in_scope,
    labels_features,
    record_profile,
)
from napari_phenoscope.session.model_imports import import_models
from napari_phenoscope.session.positions import field_key
from napari_phenoscope.session.state import (
    DEVICES,
    LAYERS_PLATE,
    NO_IMAGES,
    PlateSession,
    layers_session,
)
from napari_phenoscope.session.tables import adopt_profile_table

if TYPE_CHECKING:
    import napari

SCOPE_TEXT = {"field": "current field", "well": "current well", "plate": "whole plate"}
FEATURE_TEXT = {"vit": "ViT embeddings", "classical": "classical features", "both": "both"}


class ProfileDock(Dock):
    """Dock widget: segment and profile the current field, well or plate."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer, NO_PLATE)
        import_models()  # not in the first run's worker: see there

        self._progress: Any = None
        self._run_session: PlateSession | None = None
        self._done = 0
        self._aggregating = False
        self._total = 0
        self._cells_found = 0
        self._failures: list[str] = []
        self._labels_layer: Any = None

        # one magicgui form; the Qt widgets under it (``.native``) are what scripts and the
        # model-settings binding use
        self.inputs = LayerInputs(napari_viewer)
        scope = ComboBox(label="Profile", choices=[(SCOPE_TEXT[s], s) for s in SCOPES])
        features = ComboBox(label="Features", choices=[(FEATURE_TEXT[f], f) for f in FEATURE_SETS])
        device = ComboBox(label="Device", choices=list(DEVICES))
        weights = LineEdit(label="Weights")
        settings = Container(widgets=[scope, features, device, weights])
        self.form = Container(widgets=[self.inputs, settings], labels=False)
        self.form.margins = (0, 0, 0, 0)
        for widget in [*self.inputs, scope, features, device, weights]:
            widget.label = widget.label  # magicgui aligns labels on a change, not when built
        self.scope_combo = scope.native
        self.feature_combo = features.native
        self.device_combo = device.native
        self.weights_edit = weights.native
        self.weights_edit.setPlaceholderText("bundled MAE ViT-Tiny")
        # a Labels layer is one field: the scope applies to segmenting the plate only
        self.inputs.cells_picker.native.currentIndexChanged.connect(
            lambda _: setattr(scope, "enabled", not self.inputs.uses_labels)
        )
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.run_button.clicked.connect(lambda: self.run())
        self.cancel_button.clicked.connect(self.cancel)
        self.load_button = QPushButton("Load pipeline output…")
        self.load_button.setToolTip("Cells and well profiles written by `phenoscope profile`")
        self.load_button.clicked.connect(self._browse_output)
        self.profiles_button = QPushButton("Load profiles…")
        self.profiles_button.setToolTip(
            "Any pycytominer-shaped table (CSV, CSV.gz, Parquet; wells or cells) as a feature "
            "set; without an open plate the docks work on its numbers alone"
        )
        self.profiles_button.clicked.connect(self._browse_profiles)
        self.progress_bar = QProgressBar()
        self.progress_bar.setValue(0)
        self.field_label = QLabel("")
        self.field_label.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form.native)
        layout.addLayout(buttons)
        loads = QHBoxLayout()
        loads.addWidget(self.load_button)
        loads.addWidget(self.profiles_button)
        layout.addLayout(loads)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.field_label)
        layout.addStretch(1)

        enable_cell_clicks(napari_viewer)
        self.bind_model_settings(self.weights_edit, self.device_combo)
        self.subscribe(session_changed=self._session_changed, field_changed=self._field_changed)

    # --- public ----------------------------------------------------------------------
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
        session = self.current_session()
        if self.running:
            self.status.setText("Already profiling: wait for it to finish or cancel it.")
            return False
        if self.inputs.uses_labels or session is None or not session.has_images:
            return self._run_on_layers(session)
        indices = fields_in_scope(session.fields, session.current, self.scope_combo.currentData())
        cancel = threading.Event()
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
        self.start(
            _compute.iter_profiles,
            session.fields,
            indices,
            self.feature_combo.currentData(),
            self.state.device,
            cancel,
            self.weights_path(),
            session.extras.get("pixel_size"),
            cancel=cancel,
            on_result=self._field_done,
            on_error=self._errored,
            on_finished=self._finished,
            finish_cancelled=True,  # say how far a cancelled run got
        )
        return True

    def _run_on_layers(self, session: PlateSession | None) -> bool:
        """Profile the field on show from the picked layers: the cells of the picked Labels
        layer exactly as they are now (or segmented), recorded under the open field's key
        (or a session of its own when no plate is open)."""
        try:
            image = self.inputs.field_image()
            cells, nuclei, source = (
                self.inputs.given_labels() if self.inputs.uses_labels else (None, None, "")
            )
        except PhenoscopeError as error:
            if session is None:
                return self.fail(f"{NO_PLATE} Or pick image layers: {one_line(error)}")
            if not session.has_images and self.inputs.channel_pickers["DNA"].value is None:
                return self.fail(f"Cannot profile: {NO_IMAGES}; or pick image layers.")
            return self.fail(f"Cannot profile the layers: {one_line(error)}")
        if session is not None and session.has_images:
            index = session.current
            key = field_key(session)
        else:
            # layers from another reader: the cells are keyed by the DNA layer's name
            if session is None:
                session = layers_session(self.inputs.channel_pickers["DNA"].value.name)
                self.state.session = session  # fires session_changed
            index, key = 0, (LAYERS_PLATE, self.inputs.channel_pickers["DNA"].value.name, 1)
        cancel = threading.Event()
        self._run_session = session
        self._labels_layer = self.inputs.cells_picker.value
        self._done, self._total, self._cells_found = 0, 1, 0
        self._failures = []
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self._progress = None
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        what = f"the cells of {source!r}" if source else "the picked image layers"
        self.status.setText(f"Profiling {what}…")
        self.start(
            _compute.iter_layer_field,
            image,
            cells,
            nuclei,
            key,
            index,
            self.feature_combo.currentData(),
            self.state.device,
            cancel,
            self.weights_path(),
            session.extras.get("pixel_size"),
            source or "Labels layer",
            cancel=cancel,
            on_result=self._field_done,
            on_error=self._errored,
            on_finished=self._finished,
            finish_cancelled=True,
        )
        return True

    def load_output(self, out_dir: str | Path) -> bool:
        """Load cells and well profiles written by ``phenoscope profile`` (in a worker)."""
        session = self.current_session()
        if session is None:
            return self.fail(NO_PLATE)
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
                self.fail(one_line(error))
                return
            wells = ", ".join(f"{k}: {len(v)} wells" for k, v in session.well_profiles.items())
            self.status.setText(f"Loaded {n_cells} cells; well profiles {wells or 'none'}.")

        self.start(
            read_pipeline_output,
            out_dir,
            on_result=adopt,
            on_error=lambda error: self.fail(one_line(error)),
            on_finished=self._set_idle,
            finish_cancelled=True,
        )
        return True

    def load_profiles(self, path: str | Path, name: str | None = None) -> bool:
        """Read a profile table in a worker and make it a feature set of the session."""
        if self.running:
            self.status.setText("Busy: wait for the current run or cancel it.")
            return False
        self.status.setText(f"Reading {Path(path).name}…")

        def adopt(table: ProfileTable) -> None:
            self.worker = None  # read: a session opened for the table must not cancel it
            self.adopt_profiles(table, name)

        self.start(
            load_profile_table,
            path,
            on_result=adopt,
            on_error=lambda error: self.fail(one_line(error)),
            on_finished=self._set_idle,
            finish_cancelled=True,
        )
        return True

    def adopt_profiles(self, table: ProfileTable, name: str | None = None) -> str | None:
        """Make a read table a feature set (of a session without images if none is open)."""
        self.current_session()  # adopt a plate dropped on napari first
        try:
            name = adopt_profile_table(self.state, table, name)
        except PhenoscopeError as error:
            self.fail(one_line(error))
            return None
        self.status.setText(f"Feature set {name!r}: {describe(table)}.")
        return name

    def _browse_profiles(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a profile table", "", "Profiles (*.csv *.csv.gz *.parquet)"
        )
        if path:
            self.load_profiles(path)

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
        if self._aggregating:
            self.status.setText("Cancelling the aggregation of well profiles…")
        else:
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
        labels_layer, self._labels_layer = self._labels_layer, None
        if labels_layer is not None and labels_layer in self.viewer.layers:
            # the user's own layer gets the cells' table (napari's per-object features)
            columns = [c for names in result.feature_columns.values() for c in names]
            labels_layer.features = labels_features(result.table, columns)
        elif session.has_images and result.key == field_key(session):
            show_field_labels(self.viewer, session)
        self.status.setText(
            f"Profiled {self._done} of {self._total} field(s): {self._cells_found} cells"
        )

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
        self._aggregating = True

        def done(result: tuple[dict, str]) -> None:
            profiles, note = result
            if session is not self.state.session:
                return
            wells = len(next(iter(profiles.values()))) if profiles else 0
            text = f"{run_text}. Well profiles: {wells} wells."
            self.status.setText(f"{text} Note: {note}." if note else text)
            session.add_well_profiles(profiles)  # fires cells_changed

        def failed(error: BaseException) -> None:
            # expected while only some wells are profiled (no negative controls yet): a
            # note in the dock, not an error popup
            self.status.setText(f"{run_text}. Well profiles not computed: {one_line(error)}")

        def finished() -> None:
            if cancel.is_set():
                self.status.setText(
                    f"Cancelled while aggregating well profiles ({run_text[0].lower()}"
                    f"{run_text[1:]}); the well profiles were not updated"
                )
            self._set_idle()

        cancel = self.start(
            _compute.aggregate_wells,
            session.cells,
            dict(session.feature_columns),
            on_result=done,
            on_error=failed,
            on_finished=finished,
            finish_cancelled=True,
        )

    def _set_idle(self) -> None:
        self.worker = None
        self._aggregating = False
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    # --- viewer reactions ------------------------------------------------------------
    def _session_changed(self, session: PlateSession | None) -> None:
        if self.running:
            self.cancel()
        if session is None:
            self.status.setText(NO_PLATE)
            return
        if not session.has_images:
            self.field_label.setText("")
            return  # the status says which table was loaded
        done = len(session.labels)
        self.status.setText(
            f"{len(session.fields)} fields; {done} profiled. Choose what to profile and Run."
        )
        self._field_changed(session.current)  # a new plate fires no field_changed

    def _field_changed(self, index: int) -> None:
        session = self.state.session
        if session is None or not session.has_images:
            self.field_label.setText("")
            return
        plate, well, site = field_key(session, index)
        if show_field_labels(self.viewer, session):
            cells = session.labels[(plate, well, site)][1]
            count = len(np.unique(cells)) - 1
            self.field_label.setText(f"{well} site {site}: {count} segmented cells.")
        else:
            self.field_label.setText(f"{well} site {site}: not segmented in this session.")

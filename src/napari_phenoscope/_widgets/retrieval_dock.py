"""Retrieval dock: mAP of the retrieval tasks (replicate, sister, compound-gene, CRISPR-ORF).

The task runs in a child process (``tasks`` / ``metrics`` modules, copairs semantics) that
Cancel kills. The dock shows the summary (mean mAP, fraction retrieved), a sortable per-query
table whose rows highlight their wells on the Profile map, and a plot — mAP against
-log10 p, or CPJUMP1-style fraction-retrieved bars per feature set — exportable as PNG.
The table's first columns are the ones people read (name, target, AP, p, q), modalities
are coloured as everywhere else, and the Similar dock's query and its target genes are
highlighted in amber.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.figure import Figure
from qtpy.QtCore import QSortFilterProxyModel, Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
)

import napari_phenoscope.evaluation.precision as metrics
from napari_phenoscope._widgets._dock import NO_PLATE, NO_PROFILES, Dock
from napari_phenoscope._widgets._frame_model import SORT_ROLE
from napari_phenoscope._widgets._profile_map_requests import MapMarks, profile_map_requests_of
from napari_phenoscope._widgets._query_table import QueryModel
from napari_phenoscope._widgets._rules_form import RULES_TASK, RulesForm
from napari_phenoscope._widgets._theme import theme_axes
from napari_phenoscope.errors import PhenoscopeError, one_line
from napari_phenoscope.evaluation.rules import rules_label
from napari_phenoscope.evaluation.tasks import TASKS, TaskResult
from napari_phenoscope.io.profiles import metadata_columns
from napari_phenoscope.session.retrieval import (
    THRESHOLD,
    evaluate_each,
    fraction_retrieved_table,
    group_columns,
    query_columns,
    query_wells,
    summary_html,
)
from napari_phenoscope.session.state import PlateSession

if TYPE_CHECKING:
    import napari

PLOTS = ("mAP vs -log10 p", "fraction retrieved")
#: The feature combo's entry that computes the task for every feature set, side by side.
ALL_FEATURE_SETS = "all feature sets"


class RetrievalDock(Dock):
    """Dock widget: compute a retrieval task's mAP for a feature set and explore it."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer, NO_PLATE)
        self.results: dict[tuple[str, str], TaskResult] = {}  # (task, feature set) -> result
        self.shown: tuple[str, str] | None = None
        self._per_query = pd.DataFrame()  # all columns of the per-query table on show

        self.task_combo = QComboBox()
        self.task_combo.addItems([*TASKS, RULES_TASK])
        self.rules_form = RulesForm()
        self.rules_form.setVisible(False)
        self.task_combo.currentTextChanged.connect(
            lambda task: self.rules_form.setVisible(task == RULES_TASK)
        )
        self.feature_combo = QComboBox()
        self.feature_combo.currentTextChanged.connect(lambda _: self._offer_columns())
        self.plot_combo = QComboBox()
        self.plot_combo.addItems(list(PLOTS))
        self.plot_combo.currentTextChanged.connect(lambda _: self.draw())
        self.compute_button = QPushButton("Compute")
        self.compute_button.clicked.connect(lambda: self.compute())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button = QPushButton("Export PNG…")
        self.export_button.clicked.connect(self._export_clicked)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)

        self.model = QueryModel()
        self._marked_names: set[str] = set()  # the Similar dock's query and its targets
        self.proxy = QSortFilterProxyModel()
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setMinimumHeight(140)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setResizeContentsPrecision(40)  # size columns from 40 rows, not thousands
        self.table.clicked.connect(lambda index: self.select_query(index.row()))

        self.figure = Figure(figsize=(4, 3), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(240)
        self.toolbar = NavigationToolbar2QT(self.canvas, self)
        self.axes = self.figure.add_subplot(111)

        form = QFormLayout()
        form.addRow("Task", self.task_combo)
        form.addRow("Features", self.feature_combo)
        form.addRow("Plot", self.plot_combo)
        buttons = QHBoxLayout()
        for button in (self.compute_button, self.cancel_button, self.export_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.rules_form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, stretch=1)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas, stretch=1)
        layout.addWidget(self.status)

        self.subscribe(
            session_changed=self._session_changed, cells_changed=self._refresh_feature_sets
        )
        profile_map_requests_of(napari_viewer).mark.connect(self.mark_query)

    def mark_query(self, marks: MapMarks) -> None:
        """Highlight the rows of the Similar dock's query and its target genes."""
        self._marked_names = {marks.query[0]} if marks.query else set()
        self._marked_names |= set(marks.genes)
        if self.shown is not None:
            self._show_table()

    # --- computing -------------------------------------------------------------------

    def compute(self, task: str | None = None, feature_set: str | None = None) -> bool:
        """Run the task in a worker (defaults: the combo boxes); False with a message."""
        if task is not None:
            self.task_combo.setCurrentText(task)
        if feature_set is not None:
            self.feature_combo.setCurrentText(feature_set)
        session = self.current_session()
        if session is None:
            return self.fail(NO_PLATE, notify=False)
        if self.running:
            return self.fail("Already computing: wait for it or cancel it.", notify=False)
        task, feature_set = self.task_combo.currentText(), self.feature_combo.currentText()
        names = list(session.well_profiles) if feature_set == ALL_FEATURE_SETS else [feature_set]
        tables = {name: session.well_profiles.get(name) for name in names}
        if not tables or any(table is None or table.empty for table in tables.values()):
            return self.fail(NO_PROFILES, notify=False)
        rules = None
        if task == RULES_TASK:
            try:
                rules = self.rules_form.rules()
                task = rules_label(rules)
            except PhenoscopeError as error:
                return self.fail(f"Error: {one_line(error)}", notify=False)
        self.compute_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, 0)  # busy: copairs gives no progress we can relay
        self.status.setText(f"Computing {task} mAP on {feature_set} profiles…")
        session_then, cancel = session, threading.Event()

        def done(named: tuple[str, TaskResult]) -> None:
            name, result = named
            if self.state.session is session_then:
                self.results[(task, name)] = result
                self.show_result(task, name)
                if len(tables) > 1:
                    self.plot_combo.setCurrentText(PLOTS[1])  # the sets side by side

        self.start(
            evaluate_each,
            tables,
            rules or task,
            cancel,
            self.child_process,  # where cancel kills the evaluation itself
            cancel=cancel,
            on_result=done,
            on_error=self._errored,
            on_finished=lambda: self._idle(None),
        )
        return True

    def cancel(self) -> None:
        """Stop the running task: the dock is free at once, the process computing it is
        killed within a twentieth of a second and its result is never shown."""
        if self.worker is None:
            return
        self._cancel.set()
        self.worker = None
        self._idle("Cancelled: the result will not be shown.")

    def _errored(self, error: BaseException) -> None:
        self.fail(f"Error: {one_line(error)}")  # in the dock and as a notification

    def _idle(self, message: str | None) -> None:
        self.compute_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0 if message else 1)
        if message:
            self.status.setText(message)

    # --- showing ---------------------------------------------------------------------
    def show_result(self, task: str, feature_set: str) -> None:
        """Show the summary, per-query table and plot of a computed task."""
        result = self.results[(task, feature_set)]
        self.shown = (task, feature_set)
        self._per_query = result.per_query.reset_index(drop=True)
        self._show_table()
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.summary.setText(summary_html(result, feature_set))
        self.status.setText("Click a query to highlight its wells on the Profile map.")
        self.draw()

    def _show_table(self) -> None:
        columns = query_columns(self.results[self.shown])
        self.model.show(self._per_query[columns], self._marked_names)

    def draw(self) -> None:
        """Redraw the plot of the task on show."""
        self.axes.clear()
        if self.shown is None:
            self.axes.text(0.5, 0.5, "no result yet", ha="center", va="center", color="grey")
            self.axes.set_xticks([])
            self.axes.set_yticks([])
        elif self.plot_combo.currentText() == PLOTS[0]:
            self._draw_scatter(self.results[self.shown])
        else:
            self._draw_bars(self.shown[0])
        theme_axes(self.figure, self.axes, self.viewer)  # napari's colours
        self.canvas.draw_idle()

    def _draw_scatter(self, result: TaskResult) -> None:
        """mAP against -log10 corrected p, one point per group (CPJUMP1 Fig. 3 style)."""
        groups = result.per_group
        log_p = -np.log10(np.clip(groups[metrics.CORRECTED_P].to_numpy(float), 1e-300, 1))
        retrieved = groups[metrics.BELOW_CORRECTED_P].to_numpy(bool)
        for mask, colour, label in (
            (~retrieved, "#9a9a9a", "not retrieved"),
            (retrieved, "#3b7dd8", "retrieved"),
        ):
            self.axes.scatter(
                groups[metrics.MAP].to_numpy(float)[mask],
                log_p[mask],
                s=14,
                c=colour,
                label=f"{label} ({int(mask.sum())})",
            )
        self.axes.axhline(-np.log10(THRESHOLD), color="#d8643b", lw=1, ls="--")
        self.axes.set_xlabel("mAP")
        self.axes.set_ylabel("-log10 corrected p")
        self.axes.set_xlim(-0.02, 1.02)
        self.axes.set_title(f"{self.shown[0]} ({self.shown[1]})", fontsize=9)
        self.axes.legend(fontsize=7, loc="upper left")

    def _draw_bars(self, task: str) -> None:
        """Fraction retrieved per stratum (e.g. compound -> crispr / orf) and feature set."""
        feature_sets = sorted(fs for (t, fs) in self.results if t == task)
        strata = fraction_retrieved_table(self.results, task)
        width = 0.8 / max(len(feature_sets), 1)
        positions = np.arange(len(strata))
        for i, feature_set in enumerate(feature_sets):
            bars = self.axes.bar(
                positions + (i - (len(feature_sets) - 1) / 2) * width,
                strata[feature_set].to_numpy(float),
                width,
                label=feature_set,
            )
            self.axes.bar_label(bars, fmt="%.2f", fontsize=7)
        self.axes.set_xticks(positions, list(strata.index), fontsize=8)
        self.axes.set_ylim(0, 1.18)  # room for the labels above full bars
        self.axes.set_ylabel(f"fraction retrieved (p < {THRESHOLD:g})")
        self.axes.set_title(f"{task}: fraction retrieved", fontsize=9)
        self.axes.legend(fontsize=7)

    def export(self, path: str | Path) -> Path:
        """Save the plot (PNG, or another format by suffix)."""
        path = Path(path)
        self.figure.savefig(path, dpi=150)
        return path

    def _export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plot", "map.png", "PNG (*.png)")
        if path:
            self.status.setText(f"Saved {self.export(path)}")

    def select_query(self, view_row: int) -> list[tuple[str, str]]:
        """Highlight the wells of the query in (sorted) table row ``view_row`` on the map."""
        session = self.state.session
        if session is None or self.shown is None:
            return []
        row = self.proxy.mapToSource(self.proxy.index(view_row, 0)).row()
        query = self._per_query.iloc[row]
        profiles = session.well_profiles[self.shown[1]]
        wells = query_wells(profiles, query, group_columns(self.results[self.shown]))
        profile_map_requests_of(self.viewer).highlight_wells.emit(wells)
        self.status.setText(f"{len(wells)} well(s) of this query highlighted on the map.")
        return wells

    # --- session ---------------------------------------------------------------------
    def _refresh_feature_sets(self) -> None:
        session = self.state.session
        if session is None:
            return
        current = self.feature_combo.currentText()
        self.feature_combo.clear()
        names = list(session.well_profiles)
        self.feature_combo.addItems(names + ([ALL_FEATURE_SETS] if len(names) > 1 else []))
        if current in names or (current == ALL_FEATURE_SETS and len(names) > 1):
            self.feature_combo.setCurrentText(current)
        self._offer_columns()

    def _offer_columns(self) -> None:
        """The rules form offers the metadata columns of the chosen feature set(s)."""
        session = self.state.session
        if session is None or not session.well_profiles:
            return
        name = self.feature_combo.currentText()
        tables = [session.well_profiles[name]] if name in session.well_profiles else []
        tables = tables or list(session.well_profiles.values())
        self.rules_form.set_columns(metadata_columns(tables[0]))

    def _session_changed(self, session: PlateSession | None) -> None:
        if self.running:
            self.cancel()
        self.results.clear()
        self.shown = None
        self._per_query = pd.DataFrame()
        self.model.set_frame(self._per_query)
        self.summary.setText("")
        self.draw()
        if session is None:
            self.status.setText(NO_PLATE)
            return
        self._refresh_feature_sets()
        self.status.setText(
            NO_PROFILES if not session.well_profiles else "Choose a task and Compute."
        )

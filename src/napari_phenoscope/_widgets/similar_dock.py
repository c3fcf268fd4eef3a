# Long (~440 lines): two workers (the ranking of a selected cell, the gallery's thumbnails)
# and three outlets (table, map marks, Compare); what it computes is in session/ranking_request.py.
"""Similar perturbations dock: rank perturbations by cosine similarity to a cell, well or drug.

The ranking (``similarity`` module) fills a table — rank, perturbation, its identifier (two
PLK1 guides differ), modality, similarity, targets, MoA: those the table has — in which the
query's own target genes are highlighted (and, paler, what shares its target or MoA), so
that e.g. BI-2536 shows its PLK1 knock-out near the top and BRD4 far below at a glance. A
worker cuts thumbnails of single representative cells of the top matches for a gallery
beside the query. Clicking a row opens that perturbation's best-matching well and marks
it on the Profile map, with the query and its targets.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pandas as pd
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from napari_phenoscope._widgets._dock import NO_PLATE, NO_PROFILES, Dock
from napari_phenoscope._widgets._profile_map_requests import MapMarks, profile_map_requests_of
from napari_phenoscope._widgets._ranking_table import (
    RELATED_BACKGROUND,
    TARGET_BACKGROUND,
    THUMBNAIL_PX,
    ElideLeftDelegate,
    RankingModel,
    SimilarityBarDelegate,
    rgb_pixmap,
)
from napari_phenoscope._widgets._viewer import show_field
from napari_phenoscope._widgets._workers import start_worker
from napari_phenoscope.constants import PLATE, WELL
from napari_phenoscope.errors import PhenoscopeError, one_line
from napari_phenoscope.session.ranking_request import (
    QUERY_MODES,
    perturbation_choices,
    perturbation_label,
    query_name,
    rank_request,
    ranking_summary_html,
)
from napari_phenoscope.session.state import PlateSession
from napari_phenoscope.session.thumbnails import gallery_thumbnails
from napari_phenoscope.similarity.rank import (
    BEST_PLATE,
    BEST_WELL,
    IDENTIFIER,
    IS_TARGET,
    PERTURBATION,
    SIMILARITY,
    TARGET,
    Query,
)

if TYPE_CHECKING:
    import napari

#: Widest a column of words may get (pixels) before it elides: the table fits the dock.
_WIDEST = {PERTURBATION: 130, IDENTIFIER: 80, TARGET: 110}


class SimilarDock(Dock):
    """Dock widget: query by cell, well or perturbation; ranked table and cell gallery."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer, NO_PLATE)
        self.ranking: pd.DataFrame | None = None
        self.query: Query | None = None
        self.gallery_worker: Any = None
        self._gallery_cancel = threading.Event()
        self._cache: dict[tuple, Any] = {}

        self.mode_combo = QComboBox()
        self.mode_combo.addItems(list(QUERY_MODES))
        self.mode_combo.currentTextChanged.connect(self._mode_changed)
        self.well_combo = QComboBox()
        self.perturbation_combo = QComboBox()
        self.perturbation_combo.setEditable(True)
        self.feature_combo = QComboBox()
        self.follow_check = QCheckBox("Follow the selected cell")
        self.follow_check.setChecked(True)
        self.find_button = QPushButton("Find similar")
        self.find_button.clicked.connect(lambda: self.find())
        self.why_button = QPushButton("Why this match?")
        self.why_button.setToolTip("Compare the query with the clicked row (Compare dock)")
        self.why_button.clicked.connect(lambda: self.compare_row(self.table.currentIndex().row()))

        self.query_label = QLabel()
        self.query_label.setWordWrap(True)
        self.query_label.setTextFormat(Qt.TextFormat.RichText)
        self.model = RankingModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(180)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._bar_delegate = SimilarityBarDelegate(self.table)
        self._id_delegate = ElideLeftDelegate(self.table)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._size_columns()
        self.table.clicked.connect(lambda index: self.open_row(index.row()))
        self.gallery = QGridLayout()
        self.gallery.setSpacing(4)
        gallery_box = QWidget()
        gallery_box.setLayout(self.gallery)

        form = QFormLayout()
        form.addRow("Query", self.mode_combo)
        form.addRow("Well", self.well_combo)
        form.addRow("Perturbation", self.perturbation_combo)
        form.addRow("Features", self.feature_combo)
        row = QHBoxLayout()
        row.addWidget(self.follow_check)
        row.addWidget(self.find_button)
        row.addWidget(self.why_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.query_label)
        layout.addWidget(self.table, stretch=1)
        layout.addWidget(gallery_box)
        layout.addWidget(self.status)

        self._mode_changed(self.mode_combo.currentText())
        self.subscribe(
            session_changed=self._session_changed,
            cells_changed=self._cells_changed,
            selection_changed=self._selection_changed,
        )

    # --- querying --------------------------------------------------------------------
    def find(self, mode: str | None = None, value: str | None = None) -> bool:
        """Rank perturbations for the query (defaults: the combo boxes); False on a message.

        ``value`` is a well (``"PLATE WELL"``) or a perturbation (``"BI-2536 · compound"``,
        the modality optional) for those modes. Ranks in the GUI thread (a selection is
        ranked in the dock's worker: ``rank_selection``).
        """
        if mode is not None:
            self.mode_combo.setCurrentText(mode)
        mode = self.mode_combo.currentText()
        if value is not None:
            combo = self.well_combo if mode == "well" else self.perturbation_combo
            combo.setCurrentText(value)
        self._drop_pending()  # a selection still being ranked must not overwrite this query
        request = self._request()
        if isinstance(request, str):
            return self.fail(request, notify=False)
        try:
            query, ranking, entries = rank_request(*request)
        except PhenoscopeError as error:
            return self.fail(str(error), notify=False)
        self._show(request[0], query, ranking, entries)
        return True

    def rank_selection(self) -> bool:
        """Rank perturbations for the selected cell in the dock's worker; False on a message.

        A newer selection (or query) supersedes the run: its result is dropped. The table
        fills when the ranking arrives, so a click in the viewer or on the map returns at once.
        """
        self._drop_pending()
        request = self._request()
        if isinstance(request, str):
            return self.fail(request, notify=False)
        session = request[0]
        self.status.setText("Ranking the selected cell…")

        def done(result: tuple[Query, pd.DataFrame, list]) -> None:
            if self.state.session is session:
                self._show(session, *result)

        def errored(error: BaseException) -> None:
            message = str(error) if isinstance(error, PhenoscopeError) else one_line(error)
            self.fail(message, notify=False)

        self.start(
            rank_request, *request, on_result=done, on_error=errored, on_finished=lambda: None
        )
        return True

    def _drop_pending(self) -> None:
        """Cancel the ranking under way in the worker: its result will be dropped."""
        self._cancel.set()
        self.worker = None

    def _request(self) -> tuple | str:
        """What ``rank_request`` needs, read in the GUI thread (or why nothing can be ranked)."""
        session = self.current_session()
        if session is None:
            return NO_PLATE
        feature_set = self.feature_combo.currentText()
        profiles = session.well_profiles.get(feature_set)
        if profiles is None or profiles.empty:
            return NO_PROFILES
        return (
            session,
            self.mode_combo.currentText(),
            self.well_combo.currentText(),
            self.perturbation_combo.currentText(),
            feature_set,
            list(session.selected[:1]),
            session.cells,
            self._cache,  # replaced (not cleared) on new cells: a late run fills the old one
        )

    def _show(
        self, session: PlateSession, query: Query, ranking: pd.DataFrame, entries: list
    ) -> None:
        self.show_ranking(query, ranking)
        self._start_gallery(session, entries)

    def _size_columns(self) -> None:
        """Fit the dock's width, never scrolling sideways: every header in full; rank,
        modality and similarity as wide as their contents; names and identifiers as wide
        as theirs up to a cap (identifiers elide from the left: their distinguishing end
        stays); the last column (targets or MoA) takes the rest and elides."""
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(24)
        header.setResizeContentsPrecision(40)  # size from 40 rows, not all of them
        header.setStretchLastSection(True)
        metrics = header.fontMetrics()
        columns = self.model.column_names()
        for column, name in enumerate(columns):
            delegate = {SIMILARITY: self._bar_delegate, IDENTIFIER: self._id_delegate}
            self.table.setItemDelegateForColumn(column, delegate.get(name))
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            if column == len(columns) - 1:
                continue
            self.table.resizeColumnToContents(column)
            title = self.model.headerData(column, Qt.Orientation.Horizontal)
            width = max(header.sectionSize(column), metrics.horizontalAdvance(title) + 16)
            header.resizeSection(column, min(width, _WIDEST.get(name, width)))

    # --- showing ---------------------------------------------------------------------
    def show_ranking(self, query: Query, ranking: pd.DataFrame) -> None:
        """Fill the table: modality colours, similarity bars, the query's targets highlighted;
        mark the query, its targets and the best match on the Profile map."""
        self.query, self.ranking = query, ranking
        self.model.set_frame(ranking)
        self._size_columns()
        self.query_label.setText(
            ranking_summary_html(
                query, ranking, TARGET_BACKGROUND.name(), RELATED_BACKGROUND.name()
            )
        )
        self.status.setText(f"{len(ranking)} perturbations ranked. Click a row to open its well.")
        self._mark_on_map(0)

    def _mark_on_map(self, match_row: int) -> None:
        """Ask the Profile map to mark and label the query, its targets and a match."""
        if self.query is None or self.ranking is None:
            return
        ranking = self.ranking
        match = ranking[~ranking["is query"]]
        row = ranking.iloc[match_row] if 0 <= match_row < len(ranking) else None
        if row is None or bool(row["is query"]):
            row = match.iloc[0] if len(match) else None
        targets = ranking[ranking[IS_TARGET]]
        profile_map_requests_of(self.viewer).mark.emit(
            MapMarks(
                query=(query_name(self.query.description), list(self.query.exclude_wells)),
                targets=[
                    (
                        perturbation_label(target),
                        [(str(target[BEST_PLATE]), str(target[BEST_WELL]))],
                    )
                    for _, target in targets.iterrows()
                ],
                match=None
                if row is None
                else (perturbation_label(row), [(str(row[BEST_PLATE]), str(row[BEST_WELL]))]),
                genes=tuple(self.query.targets),
            )
        )

    def open_row(self, row: int) -> None:
        """Show the best-matching well of ranking row ``row`` in the viewer."""
        session = self.state.session
        if session is None or self.ranking is None or not 0 <= row < len(self.ranking):
            return
        match = self.ranking.iloc[row]
        plate, well = str(match[BEST_PLATE]), str(match[BEST_WELL])
        self._mark_on_map(row)
        try:
            show_field(self.viewer, session, session.find(plate, well))
        except PhenoscopeError as error:
            self.status.setText(f"Cannot open {match[PERTURBATION]}: {error}")
            return
        self.status.setText(f"Showing {match[PERTURBATION]} in {plate} {well}.")

    def compare_row(self, row: int) -> None:
        """Ask the Compare dock why the query matches ranking row ``row``."""
        if self.ranking is None or not 0 <= row < len(self.ranking):
            self.status.setText("Click a row of the ranking first.")
            return
        mode = self.mode_combo.currentText()
        combo = self.well_combo if mode == "well" else self.perturbation_combo
        self.state.events.compare_requested.emit(
            (mode, combo.currentText(), self.ranking.index[row])
        )

    # --- gallery ---------------------------------------------------------------------
    def _start_gallery(self, session: PlateSession, entries: list) -> None:
        self._gallery_cancel.set()  # a newer query supersedes the gallery in progress
        self._clear_gallery()
        if not entries:
            return
        cancel = threading.Event()
        self._gallery_cancel = cancel
        # a result arriving after the dock is gone must not touch deleted Qt objects
        self.destroyed.connect(lambda *_, event=cancel: event.set())

        def show(result: tuple[int, str, Any]) -> None:
            if not cancel.is_set():
                self._add_gallery_entry(*result)

        def finished() -> None:
            if self._gallery_cancel is cancel:
                self.gallery_worker = None

        feature_set = self.feature_combo.currentText()
        self.gallery_worker = start_worker(
            gallery_thumbnails,
            session.fields,
            session.cells,
            list(session.feature_columns.get(feature_set, [])),
            entries,
            cancel,
            on_yield=show,
            on_error=lambda error: self.status.setText(f"Gallery: {one_line(error)}"),
            on_finished=finished,
        )

    def _clear_gallery(self) -> None:
        while self.gallery.count():
            widget = self.gallery.takeAt(0).widget()
            if widget is not None:
                widget.hide()  # deleteLater runs later: do not let it linger on screen
                widget.deleteLater()

    def _add_gallery_entry(self, column: int, caption: str, thumbnails: Any) -> None:
        title = QLabel(caption)
        title.setStyleSheet("font-size: 8pt")
        title.setMaximumWidth(THUMBNAIL_PX + 8)
        self.gallery.addWidget(title, 0, column)
        if isinstance(thumbnails, str):
            note = QLabel(thumbnails)
            note.setWordWrap(True)
            note.setStyleSheet("font-size: 7pt; color: grey")
            self.gallery.addWidget(note, 1, column)
            return
        for row, rgb in enumerate(thumbnails, start=1):
            image = QLabel()
            image.setPixmap(rgb_pixmap(rgb))
            self.gallery.addWidget(image, row, column)

    def gallery_captions(self) -> list[str]:
        """Captions of the gallery entries shown so far (query first)."""
        captions = []
        for i in range(self.gallery.count()):
            item = self.gallery.itemAt(i)
            row, _, _, _ = self.gallery.getItemPosition(i)
            if row == 0 and isinstance(item.widget(), QLabel):
                captions.append(item.widget().text())
        return captions

    # --- session ---------------------------------------------------------------------
    def _mode_changed(self, mode: str) -> None:
        self.well_combo.setEnabled(mode == "well")
        self.perturbation_combo.setEnabled(mode == "perturbation")

    def _session_changed(self, session: PlateSession | None) -> None:
        self._drop_pending()
        self._cache = {}
        self.ranking = None
        self.model.set_frame(pd.DataFrame())
        self.query_label.setText("")
        self._clear_gallery()
        if session is None:
            self.status.setText(NO_PLATE)
            return
        self._cells_changed()

    def _cells_changed(self) -> None:
        session = self.state.session
        if session is None:
            return
        self._drop_pending()
        self._cache = {}
        current = self.feature_combo.currentText()
        self.feature_combo.clear()
        self.feature_combo.addItems(list(session.well_profiles))
        if current in session.well_profiles:
            self.feature_combo.setCurrentText(current)
        wells: list[str] = []
        names: list[str] = []
        for profiles in session.well_profiles.values():
            wells += [f"{p} {w}" for p, w in zip(profiles[PLATE], profiles[WELL], strict=True)]
            names += perturbation_choices(profiles)
        for combo, items in ((self.well_combo, wells), (self.perturbation_combo, names)):
            text = combo.currentText()
            combo.clear()
            combo.addItems(list(dict.fromkeys(items)))
            if text:
                combo.setCurrentText(text)
        self.status.setText(
            NO_PROFILES if not session.well_profiles else "Choose a query and Find similar."
        )
        if session.well_profiles and (session.cells is None or not session.has_images):
            # profiles alone (a well-level table): a cell query would be empty; ask by drug
            self.mode_combo.setCurrentText(QUERY_MODES[2])

    def _selection_changed(self, keys: list) -> None:
        if (
            keys
            and self.follow_check.isChecked()
            and self.mode_combo.currentText() == QUERY_MODES[0]
        ):
            self.rank_selection()

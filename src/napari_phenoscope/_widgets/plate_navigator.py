# Long (~470 lines): one dock's widgets (open row, reading options, well grid, sites, QC)
# and their wiring; what it computes is in session/opening.py and session/quality.py.
"""Plate navigator dock: the plate as a grid of wells, pick a well and site, see its metadata."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor, QImage, QPixmap
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from napari_phenoscope._widgets._cells import show_field_labels
from napari_phenoscope._widgets._dock import Dock
from napari_phenoscope._widgets._plate_inputs import PlateInputs
from napari_phenoscope._widgets._sparse_header import SparseHeader
from napari_phenoscope._widgets._viewer import current_session, show_field, show_opened_plate
from napari_phenoscope._widgets._workers import notify_error, wait_until
from napari_phenoscope.constants import MODALITY, is_metadata_column, well_row_col
from napari_phenoscope.errors import PhenoscopeError, one_line
from napari_phenoscope.io.plate_layout import (
    N_COLUMNS,
    N_ROWS,
    grid_position_to_well,
    plate_column_labels,
    plate_row_labels,
    well_grid,
)
from napari_phenoscope.io.remote import display_path
from napari_phenoscope.session.opening import OpenedPlate, describe_session, read_plate_session
from napari_phenoscope.session.positions import field_key
from napari_phenoscope.session.quality import (
    attach_qc,
    describe_field_qc,
    failed_sites,
    run_session_qc,
)
from napari_phenoscope.session.state import QC_FAILED_FIELDS, QC_FIELDS_KEY, PlateSession

if TYPE_CHECKING:
    import napari

CELL_COUNT = "cell count"
NO_PLATE = "No plate open: open one here or drop a plate folder on napari."


#: Least height of the navigator in the left column: the plate grid in view, the rest scrolls.
MINIMUM_HEIGHT = 400


def _viridis_pixmap() -> QPixmap:
    """A 256 x 1 viridis strip (stretched by its label) for the numeric colour bar."""
    from matplotlib import colormaps

    rgb = (colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    rgb = np.ascontiguousarray(rgb[np.newaxis])
    image = QImage(rgb.data, 256, 1, 3 * 256, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image)


#: A failed site in the site list: the red of a failed QC verdict in the well info.
QC_FAILED_COLOUR = "#f66"
FOREGROUND = Qt.ItemDataRole.ForegroundRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole


class PlateNavigator(Dock):
    """Dock widget: open a plate, colour its wells by metadata, click a well to show it."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer, NO_PLATE)

        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText(
            "plate or Gallery folder, load_data.csv(.gz), plate.zarr, TIFF or s3:// URL"
        )
        self.channel_map_edit = QLineEdit()
        self.channel_map_edit.setPlaceholderText("CPJUMP1 (1=Mito,2=AGP,3=RNA,4=ER,5=DNA)")
        self.inputs = PlateInputs()
        browse = QPushButton("Browse…")
        browse.setToolTip("a plate folder, Gallery source or .zarr; File… for a CSV or TIFF")
        browse.clicked.connect(self._browse)
        browse_file = QPushButton("File…")
        browse_file.clicked.connect(self._browse_file)
        open_button = QPushButton("Open")
        open_button.clicked.connect(self._open_clicked)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit)
        path_row.addWidget(browse)
        path_row.addWidget(browse_file)
        path_row.addWidget(open_button)

        self.plate_combo = QComboBox()
        self.colour_combo = QComboBox()
        self.site_combo = QComboBox()
        self.plate_combo.currentTextChanged.connect(lambda _: self.refresh_grid())
        self.colour_combo.currentTextChanged.connect(lambda _: self.refresh_grid())
        self.site_combo.activated.connect(self._site_chosen)

        self.grid = QTableWidget()
        self.grid.setHorizontalHeader(SparseHeader(Qt.Orientation.Horizontal, self.grid))
        self.grid.setVerticalHeader(SparseHeader(Qt.Orientation.Vertical, self.grid))
        self._shape_grid(N_ROWS, N_COLUMNS)
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        for header in (self.grid.horizontalHeader(), self.grid.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.grid.horizontalHeader().setStyleSheet("font-size: 7pt")
        self.grid.verticalHeader().setStyleSheet("font-size: 7pt")
        self.grid.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.grid.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.grid.setMinimumHeight(200)  # 16 rows in view under the combo boxes
        self.grid.cellClicked.connect(self._well_clicked)

        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.colour_bar = QLabel()  # numbers: a viridis bar between the lowest and highest
        self.colour_bar.setScaledContents(True)
        self.colour_bar.setFixedHeight(10)
        self.colour_bar.setMinimumWidth(1)  # its 256 px strip stretches to the dock's width
        self.colour_bar.setPixmap(_viridis_pixmap())
        self.info = QTextBrowser()
        self.info.setMaximumHeight(190)
        self.qc_button = QPushButton("Field QC…")
        self.qc_button.setToolTip(
            "Check field quality (QC): measure focus, saturation and cell count of every field, "
            "judge each against the plate, colour wells by failed fields and mark flagged "
            "cells (docs/qc.md)"
        )
        self.qc_button.clicked.connect(lambda: self.run_qc(wait=False))

        # The QC button sits beside the reading options, so that the plate grid and its
        # legend stay in view at the left column's default height.
        form = QFormLayout()
        form.addRow("Plate", self.plate_combo)
        form.addRow("Colour wells by", self.colour_combo)
        form.addRow("Site", self.site_combo)
        # How to read a plate that is not laid out like CPJUMP1: folded away by default, so
        # that the plate grid stays in view; unfolded by ``show_reading_options``.
        self.reading_options = QWidget()
        reading_form = QFormLayout(self.reading_options)
        reading_form.setContentsMargins(0, 0, 0, 0)
        reading_form.addRow("Channel map", self.channel_map_edit)
        self.inputs.add_rows(reading_form)
        self.reading_toggle = QToolButton()
        self.reading_toggle.setText("Reading options")
        self.reading_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.reading_toggle.setCheckable(True)
        self.reading_toggle.toggled.connect(self.show_reading_options)
        self.show_reading_options(False)
        tools_row = QHBoxLayout()
        tools_row.addWidget(self.reading_toggle)
        tools_row.addStretch(1)
        tools_row.addWidget(self.qc_button)

        # The navigator shares the left column with napari's layer controls and layer list:
        # scrolled, it never forces the window taller than the screen. The grid's legend
        # (or colour bar) comes right under it: what colours the wells is read with them.
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addLayout(path_row)
        layout.addLayout(form)
        layout.addLayout(tools_row)
        layout.addWidget(self.reading_options)
        layout.addWidget(self.grid)
        layout.addWidget(self.colour_bar)
        layout.addWidget(self.legend)
        layout.addWidget(self.info)
        layout.addWidget(self.status)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        scroll.setMinimumHeight(MINIMUM_HEIGHT)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        napari_viewer.layers.events.inserted.connect(self._layer_inserted)
        self.subscribe(
            session_changed=self._session_changed,
            field_changed=self._field_changed,
            cells_changed=self.refresh_grid,
        )

    def show_reading_options(self, shown: bool) -> None:
        """Unfold (or fold) the rows that say how to read an unusual plate."""
        self.reading_toggle.blockSignals(True)
        self.reading_toggle.setChecked(shown)
        self.reading_toggle.blockSignals(False)
        self.reading_toggle.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )
        self.reading_options.setVisible(shown)

    # --- reactions -------------------------------------------------------------------
    def _layer_inserted(self, event) -> None:
        if self.state.session is None and current_session(self.viewer) is not None:
            self._field_changed(self.state.session.current)

    def _session_changed(self, session: PlateSession | None) -> None:
        self.plate_combo.blockSignals(True)
        self.colour_combo.blockSignals(True)
        self.plate_combo.clear()
        self.colour_combo.clear()
        if session is not None:
            self.plate_combo.addItems(session.plates())
            columns = [CELL_COUNT]
            if session.well_metadata is not None:
                columns = [c for c in session.well_metadata.columns if is_metadata_column(c)]
                columns += [CELL_COUNT]
            if QC_FIELDS_KEY in session.extras:
                columns += [QC_FAILED_FIELDS]
            self.colour_combo.addItems(columns)
            if MODALITY in columns:
                self.colour_combo.setCurrentText("Metadata_control_type")
            self.path_edit.setText(display_path(session.source))
            self.status.setText(
                describe_session(session)
                if session.has_images
                else f"{len(session.plates())} plate(s) of profiles, no images"
            )
        self.plate_combo.blockSignals(False)
        self.colour_combo.blockSignals(False)
        self.refresh_grid()
        if session is not None and session.has_images:
            self._field_changed(session.current)

    def _field_changed(self, index: int) -> None:
        session = self.state.session
        if session is None or not session.has_images:
            return
        plate, well, site = field_key(session, index)
        if self.plate_combo.currentText() != plate:
            self.plate_combo.setCurrentText(plate)
        self._fill_sites(session, plate, well, site)
        row, col = well_row_col(well)
        self.grid.setCurrentCell(row - 1, col - 1)
        info = session.well_info(plate, well)
        rows = "".join(
            f"<tr><td><b>{k.removeprefix('Metadata_')}</b></td><td>{v}</td></tr>"
            for k, v in info.items()
            if v not in ("", None)
        )
        quality = describe_field_qc(session, (plate, well, site))
        self.info.setHtml(f"<p>site {site}</p>{quality}<table>{rows}</table>")

    # --- user actions ----------------------------------------------------------------
    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a plate", "", "Plates (*.csv *.csv.gz *.tif *.tiff);;All files (*)"
        )
        if path:
            self.path_edit.setText(path)
            self._open_clicked()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a plate folder")
        if folder:
            self.path_edit.setText(folder)
            self._open_clicked()

    def _open_clicked(self) -> None:
        self.open(self.path_edit.text().strip(), wait=False)

    def open(self, path: str, wait: bool = True) -> bool:
        """Open a plate from a path, reading it in a worker; errors become one-line messages.

        The button starts the read and returns (the viewer keeps answering); scripts and
        tests get ``wait=True``: Qt events are processed until the plate is shown or has
        failed. Opening another plate while one is read drops the first.

        Returns
        -------
        bool
            With ``wait``, whether the plate is now the session; otherwise whether the read
            started.
        """
        try:
            options = self.inputs.values()
        except PhenoscopeError as error:
            return self._open_failed(error)
        if self.running:
            self._cancel.set()  # the newer plate wins; the older read is dropped
        self.status.setText(f"Opening {path}…")
        outcome: dict[str, bool] = {}

        def opened(plate: OpenedPlate) -> None:
            show_opened_plate(self.viewer, plate)
            outcome["opened"] = True

        def failed(error: BaseException) -> None:
            outcome["opened"] = False
            self._open_failed(error)

        cancel = self.start(
            read_plate_session,
            path,
            self.channel_map_edit.text().strip() or None,
            options["metadata"],
            options["negcon"],
            options["illum"],
            options["pixel_size"],
            on_result=opened,
            on_error=failed,
            on_finished=lambda: None,
        )
        if not wait:
            return True
        wait_until(lambda: ("opened" in outcome and not self.running) or cancel.is_set())
        return outcome.get("opened", False)

    def _open_failed(self, error: BaseException) -> bool:
        self.fail(f"Error: {one_line(error)}")
        self.show_reading_options(True)  # most plates that fail to open need one of them
        return False

    def _well_clicked(self, row: int, column: int) -> None:
        self.go_to(self.plate_combo.currentText(), grid_position_to_well(row, column))

    def go_to(self, plate: str, well: str, site: int | None = None) -> None:
        """Show a well (first site unless given); a well that was not imaged says so."""
        session = self.state.session
        if session is None:
            return
        try:
            index = session.find(plate, well, site)
        except PhenoscopeError as error:
            self.status.setText(str(error))
            return
        try:
            show_field(self.viewer, session, index)
        except PhenoscopeError as error:
            self.status.setText(f"Error: {error}")
            notify_error(str(error))

    def run_qc(self, wait: bool = True) -> bool:
        """QC every field of the open plate in a worker, then colour wells by failed fields.

        Returns whether QC finished (with ``wait``) or started.
        """
        session = self.state.session
        if session is None or not session.has_images:
            self.status.setText("Open a plate with images first: QC measures its fields.")
            return False
        self.status.setText(f"QC of {len(session.fields)} fields…")
        outcome: dict[str, bool] = {}

        def done(tables) -> None:
            attach_qc(session, *tables)
            failed = int((~tables[0]["QC_pass"]).sum())
            self._session_changed(session)
            self.colour_combo.setCurrentText(QC_FAILED_FIELDS)
            self.status.setText(f"QC: {failed} of {len(tables[0])} fields failed")
            show_field_labels(self.viewer, session)  # flagged cells of a segmented field
            outcome["done"] = True

        def failed(error: BaseException) -> None:
            outcome["done"] = False
            self.fail(f"Error: {one_line(error)}")

        cancel = self.start(
            run_session_qc, session, on_result=done, on_error=failed, on_finished=lambda: None
        )
        if not wait:
            return True
        wait_until(lambda: ("done" in outcome and not self.running) or cancel.is_set())
        return outcome.get("done", False)

    def _fill_sites(self, session: PlateSession, plate: str, well: str, site: int) -> None:
        """The well's sites, those that failed QC in red with their reason."""
        failed = failed_sites(session, plate, well)
        self.site_combo.clear()
        for number in session.sites(plate, well):
            reason = failed.get(int(number))
            self.site_combo.addItem(f"{number}  ✗ {reason}" if reason else str(number), int(number))
            if reason:
                index = self.site_combo.count() - 1
                self.site_combo.setItemData(index, QColor(QC_FAILED_COLOUR), FOREGROUND)
                self.site_combo.setItemData(index, f"QC failed: {reason}", TOOLTIP)
        self.site_combo.setCurrentIndex(max(self.site_combo.findData(int(site)), 0))

    def _site_chosen(self, _: int) -> None:
        session = self.state.session
        site = self.site_combo.currentData()
        if session is None or not session.has_images or site is None:
            return
        plate, well, _ = field_key(session)
        self.go_to(plate, well, int(site))

    def refresh_grid(self) -> None:
        """Recolour the wells of the selected plate by the chosen column."""
        session = self.state.session
        self.grid.clearContents()
        if session is None or not self.plate_combo.currentText():
            self.legend.setText("")
            self.colour_bar.hide()
            return
        wells = session.wells_of(self.plate_combo.currentText())
        column = self.colour_combo.currentText() or CELL_COUNT
        try:
            grid = well_grid(wells, column)
        except PhenoscopeError as error:
            self.status.setText(str(error))
            return
        n_rows, n_columns = grid.shape
        if (self.grid.rowCount(), self.grid.columnCount()) != (n_rows, n_columns):
            self._shape_grid(n_rows, n_columns)
        for r in range(n_rows):
            for c in range(n_columns):
                item = QTableWidgetItem("")
                rgba = grid.colors[r, c]
                item.setBackground(QColor.fromRgbF(*[float(v) for v in rgba]))
                if grid.labels[r, c]:
                    item.setToolTip(f"{grid_position_to_well(r, c)}: {grid.labels[r, c]}")
                self.grid.setItem(r, c, item)
        title = f"<b>{column.removeprefix('Metadata_')}</b>: "
        self.colour_bar.setVisible(grid.numeric and len(grid.legend) == 2)
        if self.colour_bar.isVisible():
            (low, _), (high, _) = grid.legend
            self.legend.setText(
                f"<table width='100%'><tr><td>{low}</td><td align='center'>{title[:-2]}</td>"
                f"<td align='right'>{high}</td></tr></table>"
            )
            return
        # a swatch and its name wrap together (non-breaking), entries apart
        swatches = " &nbsp; ".join(
            f"<span style='color:{QColor.fromRgbF(*rgba).name()}'>&#9632;</span>&nbsp;"
            + html.escape(label or "—").replace(" ", "&nbsp;")
            for label, rgba in grid.legend
        )
        self.legend.setText(title + swatches)

    def _shape_grid(self, n_rows: int, n_columns: int) -> None:
        """Draw a plate of ``n_rows`` x ``n_columns`` wells (96, 384 or 1536), its rows and
        columns named as far as the names stay legible at the left column's width (every
        other column of a 384-well plate; rows A, E, I.. and columns 1, 6, 12.. of a
        1536-well one: ``_sparse_header``); a well's tool tip names it."""
        self.grid.clear()
        self.grid.setRowCount(n_rows)
        self.grid.setColumnCount(n_columns)
        # 24 columns of 7 px fit the left column's width, and 48 of 4 px
        smallest = 7 if n_columns <= N_COLUMNS else 4
        for header in (self.grid.horizontalHeader(), self.grid.verticalHeader()):
            header.setMinimumSectionSize(smallest)
        self.grid.setVerticalHeaderLabels([""] * n_rows)
        self.grid.setHorizontalHeaderLabels([""] * n_columns)
        self.grid.verticalHeader().set_names(plate_row_labels(n_rows))
        self.grid.horizontalHeader().set_names(plate_column_labels(n_columns))

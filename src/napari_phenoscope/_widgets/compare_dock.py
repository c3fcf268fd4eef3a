"""Compare dock: why a query matches one perturbation and not another (BI-2536 | PLK1 | BRD4).

A thin shell over ``similarity.comparison``: pick a query (a perturbation, a well or the
selected cell), a match and a contrast (automatic: the query's other target, else the
best-ranked non-target), **Compare** runs ``compare`` in a worker (the ViT occlusion
embeds a few hundred crops six times), and the dock draws the figure ``phenoscope
explain`` writes, laid out for the dock's width (it reflows when the dock is resized; no
sideways scrolling). Clicking a cell opens its field in the viewer and selects it;
**Export** writes the slide-size figure (PNG, SVG or PDF) and its CSV tables, the same
file as ``phenoscope explain ... --versus ...``. The Similar perturbations dock asks for a
comparison of its query and one of its rows through the session's ``compare_requested``
event.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.figure import Figure
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
)

from napari_phenoscope._widgets._dock import NO_PLATE, NO_PROFILES, Dock
from napari_phenoscope._widgets._viewer import show_field
from napari_phenoscope.constants import LABEL, MODALITY, PLATE, SITE, WELL
from napari_phenoscope.errors import PhenoscopeError, ProfileTableError, one_line
from napari_phenoscope.session.comparison_request import (
    AUTOMATIC,
    NO_CONTRAST,
    QUERY_MODES,
    query_maker,
    run_comparison,
    versus_spec,
)
from napari_phenoscope.session.state import PlateSession
from napari_phenoscope.similarity.comparison import Comparison
from napari_phenoscope.similarity.comparison_figure import (
    CellTiles,
    draw_comparison,
    figure_height,
    write_comparison,
)
from napari_phenoscope.similarity.rank import (
    perturbation_names,
)

if TYPE_CHECKING:
    import napari

#: Screen resolution of the dock's figure: 9 pt text is about 12 px.
SCREEN_DPI = 100


class CompareDock(Dock):
    """Dock widget: a query and a match, side by side, with why and how sure."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer)
        self.comparison: Comparison | None = None
        self.tiles = CellTiles()

        self.mode_combo = QComboBox()
        self.mode_combo.addItems(list(QUERY_MODES))
        self.mode_combo.currentTextChanged.connect(lambda _: self._fill_choices())
        self.query_combo = QComboBox()
        self.query_combo.setEditable(True)
        self.match_combo = QComboBox()
        self.match_combo.setEditable(True)
        self.versus_combo = QComboBox()
        self.versus_combo.setEditable(True)
        self.versus_combo.setToolTip("What the match is set against, e.g. BRD4 · crispr")
        self.vit_check = QCheckBox("ViT channel occlusion (re-embeds cells: slower)")
        self.vit_check.setChecked(True)
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(lambda: self.run())
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self._export_dialog)
        self.export_button.setEnabled(False)
        self.figure = Figure(dpi=SCREEN_DPI)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)  # the figure takes the dock's width, never more
        self.scroll.setWidget(self.canvas)
        self.scroll.setMinimumHeight(360)
        self.canvas.mpl_connect("button_press_event", self._on_click)
        self.canvas.mpl_connect("resize_event", lambda _: self._reflow())
        self.toolbar = NavigationToolbar2QT(self.canvas, self)

        form = QFormLayout()
        form.addRow("Query", self.mode_combo)
        form.addRow("", self.query_combo)
        form.addRow("Match", self.match_combo)
        form.addRow("Contrast", self.versus_combo)
        form.addRow("", self.vit_check)
        buttons = QHBoxLayout()
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.scroll, stretch=1)
        layout.addWidget(self.status)

        self.state.events.compare_requested.connect(self._requested)
        self.subscribe(session_changed=self._session_changed, cells_changed=self._fill_choices)

    # --- running ------------------------------------------------------------------------
    def run(
        self,
        query: str | None = None,
        match: str | None = None,
        mode: str | None = None,
        with_vit: bool | None = None,
        versus: str | None = None,
    ) -> bool:
        """Start the comparison (defaults: the dock's fields); False with a message if not.

        ``query`` is a perturbation (``"BI-2536 · compound"``), a well (``"PLATE WELL"``)
        or ignored for the selected cell; ``match`` and ``versus`` perturbations as
        ``explain.find_perturbation`` reads them (``"PLK1 · crispr"``, ``"crispr:BRD4"``;
        ``versus`` also ``AUTOMATIC`` or ``NO_CONTRAST``); ``with_vit`` sets the ViT box.
        """
        for combo, value in ((self.mode_combo, mode), (self.query_combo, query)):
            if value is not None:
                combo.setCurrentText(value)
        if match is not None:
            self.match_combo.setCurrentText(match)
        if versus is not None:
            self.versus_combo.setCurrentText(versus)
        if with_vit is not None:
            self.vit_check.setChecked(with_vit)
        session = self.current_session()
        if session is None:
            return self.fail(NO_PLATE)
        if not session.well_profiles:
            return self.fail(NO_PROFILES)
        try:
            maker = query_maker(
                session, self.mode_combo.currentText(), self.query_combo.currentText()
            )
        except PhenoscopeError as error:
            return self.fail(str(error))
        match_text = self.match_combo.currentText()
        self.compare_button.setEnabled(False)
        self.status.setText(f"Comparing with {match_text}…")
        self.start(
            run_comparison,
            session,
            maker,
            match_text,
            versus_spec(self.versus_combo.currentText()),
            self.vit_check.isChecked() and "vit" in session.well_profiles,
            self.weights_path(),
            on_result=self.show_comparison,
            on_error=lambda error: self.fail(one_line(error)),
            on_finished=lambda: self.compare_button.setEnabled(True),
        )
        return True

    def show_comparison(self, comparison: Comparison) -> None:
        """Draw a comparison (the figure ``phenoscope explain`` writes)."""
        self.comparison = comparison
        self._reflow()
        self.export_button.setEnabled(True)
        numbers = comparison.summary()
        text = "; ".join(
            f"{row['feature set']}: {row['similarity']:+.2f}, #{row['rank']} of {row['n ranked']}"
            + ("" if row["side"] == "match" else f" (contrast {row['match']})")
            for _, row in numbers.iterrows()
        )
        self.status.setText(
            text + (" (" + "; ".join(comparison.notes) + ")" if comparison.notes else "")
        )

    def _reflow(self) -> None:
        """Lay the figure out for the canvas's width, at the height that width needs."""
        if self.comparison is None:
            return
        width = self.figure.get_size_inches()[0]
        needed = int(figure_height(self.comparison, width, self.figure.dpi) * SCREEN_DPI)
        if abs(self.canvas.minimumHeight() - needed) > 2:
            self.canvas.setMinimumHeight(needed)  # the scroll area resizes: back here
        self.tiles = draw_comparison(self.figure, self.comparison)
        self.canvas.draw_idle()

    # --- cells and export ----------------------------------------------------------------
    def _on_click(self, event: Any) -> None:
        if self.comparison is None or event.inaxes is None:
            return
        row = self.tiles.cell_at(event.inaxes, event.xdata, event.ydata)
        if row is not None:
            self.open_cell(row)

    def open_cell(self, row: int) -> None:
        """Show the field of representative cell ``row`` and select the cell."""
        session = self.state.session
        if session is None or self.comparison is None or self.comparison.cells is None:
            return
        cell = self.comparison.cells.iloc[row]
        key = (str(cell[PLATE]), str(cell[WELL]), int(cell[SITE]), int(cell[LABEL]))
        try:
            show_field(self.viewer, session, session.find(*key[:3]))
        except PhenoscopeError as error:
            self.status.setText(f"Cannot open the cell: {error}")
            return
        self.state.select([key])
        self.status.setText(
            f"Showing {cell['role']} cell {key[3]} of {key[0]} {key[1]} site {key[2]}."
        )

    def export(self, path: str | Path) -> list[Path]:
        """Write the slide-size figure (PNG, SVG or PDF by suffix) and its CSV tables."""
        if self.comparison is None:
            raise ProfileTableError("nothing to export: run a comparison first")
        return write_comparison(self.comparison, path)

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export comparison", "why_this_match.png",
                                              "Figures (*.png *.svg *.pdf)")  # fmt: skip
        if not path:
            return
        try:
            written = self.export(path)
        except PhenoscopeError as error:
            self.status.setText(str(error))
            return
        self.status.setText(f"Wrote {written[0].name} and {len(written) - 1} CSV tables.")

    # --- session ---------------------------------------------------------------------
    def _requested(self, request: tuple[str, str, str]) -> None:
        """The Similar dock asked: (query mode, query value, match)."""
        mode, value, match = request
        self.run(query=value, match=match, mode=mode)

    def _session_changed(self, session: PlateSession | None) -> None:
        self.comparison = None
        self.canvas.setMinimumHeight(0)
        self.figure.clear()
        self.canvas.draw_idle()
        self.export_button.setEnabled(False)
        if session is None:
            self.status.setText(NO_PLATE)
            return
        self._fill_choices()

    def _fill_choices(self) -> None:
        session = self.state.session
        if session is None:
            return
        names: list[str] = []
        wells: list[str] = []
        for profiles in session.well_profiles.values():
            modality = profiles[MODALITY] if MODALITY in profiles else ""
            names += sorted(set(perturbation_names(profiles) + " · " + modality))
            wells += [f"{p} {w}" for p, w in zip(profiles[PLATE], profiles[WELL], strict=True)]
        mode = self.mode_combo.currentText()
        choices = {"perturbation": names, "well": wells, "selected cell": []}[mode]
        pickers = (
            (self.query_combo, choices),
            (self.match_combo, names),
            (self.versus_combo, [AUTOMATIC, *names, NO_CONTRAST]),
        )
        for combo, items in pickers:
            text = combo.currentText()
            combo.clear()
            combo.addItems(list(dict.fromkeys(items)))
            if text and (items or combo is self.match_combo):
                combo.setCurrentText(text)
        self.query_combo.setEnabled(mode != "selected cell")
        self.status.setText(
            NO_PROFILES
            if not session.well_profiles
            else "Choose a query and a match, then Compare."
        )

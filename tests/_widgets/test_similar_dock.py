"""Similar perturbations dock in a real napari viewer (run under xvfb-run)."""

from __future__ import annotations

import threading

import pytest
from qtpy.QtCore import Qt
from test_profile_map import profiled_session
from test_rank import synthetic_cells, write_synthetic_project

from napari_phenoscope._widgets._frame_model import SORT_ROLE
from napari_phenoscope._widgets._viewer import open_plate
from napari_phenoscope._widgets.similar_dock import (
    NO_PLATE,
    NO_PROFILES,
    TARGET_BACKGROUND,
    SimilarDock,
)
from napari_phenoscope.constants import CONTROL_TYPE, NEGATIVE_CONTROL, PERT_INAME, PLATE, SITE
from napari_phenoscope.session import ranking_request as ranking
from napari_phenoscope.session.positions import field_key
from napari_phenoscope.session.ranking_request import NO_CELL
from napari_phenoscope.session.state import state_of
from napari_phenoscope.similarity.rank import (
    BEST_PLATE,
    BEST_WELL,
    IDENTIFIER,
    PERTURBATION,
    SIMILARITY,
)

pytestmark = pytest.mark.gui


@pytest.fixture
def dock(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = SimilarDock(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, widget


def table_column(widget, name: str) -> list[str]:
    model = widget.table.model()
    column = model.column_names().index(name)
    return [model.index(row, column).data() for row in range(model.rowCount())]


def cell_style(widget, row: int, name: str, role):
    model = widget.table.model()
    return model.index(row, model.column_names().index(name)).data(role)


def test_bad_states_show_messages(dock, tmp_path):
    viewer, widget = dock
    assert not widget.find("perturbation", "BI-2536")
    assert widget.status.text() == NO_PLATE
    write_synthetic_project(tmp_path, synthetic_cells(cells_per_well=2))
    open_plate(viewer, tmp_path)
    assert not widget.find("perturbation", "BI-2536")
    assert widget.status.text() == NO_PROFILES


def test_bi2536_ranks_the_plk1_knockout_first_with_targets_highlighted(dock, tmp_path):
    viewer, widget = dock
    profiled_session(viewer, tmp_path)
    assert widget.find("perturbation", "BI-2536 · compound"), widget.status.text()
    names = table_column(widget, PERTURBATION)
    modalities = table_column(widget, "Metadata_modality")
    assert (names[0], modalities[0]) == ("PLK1", "crispr")
    brd4 = list(zip(names, modalities, strict=True)).index(("BRD4", "crispr"))
    assert brd4 + 1 > len(names) // 2  # the BRD4 knock-out is far below
    for row in (0, brd4):  # both are BI-2536 targets: highlighted rows
        assert cell_style(widget, row, PERTURBATION, Qt.ItemDataRole.BackgroundRole) == (
            TARGET_BACKGROUND
        )
        assert cell_style(widget, row, PERTURBATION, Qt.ItemDataRole.FontRole).bold()
    dmso = names.index("DMSO")
    assert cell_style(widget, dmso, PERTURBATION, Qt.ItemDataRole.BackgroundRole) is None
    similarity = [cell_style(widget, row, SIMILARITY, SORT_ROLE) for row in range(len(names))]
    assert similarity == sorted(similarity, reverse=True) and similarity[0] > 0.5
    summary = widget.query_label.text()
    assert "PLK1 (crispr) #1</span>" in summary and f"BRD4 (crispr) #{brd4 + 1}<" in summary


def test_the_table_tells_two_plk1_rows_apart_and_reads_in_full(dock, tmp_path):
    viewer, widget = dock
    viewer.window._qt_window.resize(1680, 1180)
    profiled_session(viewer, tmp_path)
    assert widget.find("perturbation", "BI-2536 · compound"), widget.status.text()
    names, ids = table_column(widget, PERTURBATION), table_column(widget, IDENTIFIER)
    plk1 = [ident for name, ident in zip(names, ids, strict=True) if name == "PLK1"]
    assert len(plk1) == 2 and len(set(plk1)) == 2 and all(plk1)  # guide and ORF differ
    header = widget.table.horizontalHeader()
    metrics = header.fontMetrics()
    model = widget.table.model()
    for column in range(model.columnCount()):  # every header fits its column
        text = model.headerData(column, Qt.Orientation.Horizontal)
        assert header.sectionSize(column) >= metrics.horizontalAdvance(text), text
    similarity = model.column_names().index(SIMILARITY)
    assert model.index(0, similarity).data() == ""  # painted as a number beside a bar
    assert header.sectionSize(similarity) > metrics.horizontalAdvance("+0.00") + 40


def test_selected_cell_query_follows_the_selection_and_fills_the_gallery(dock, qtbot, tmp_path):
    viewer, widget = dock
    session = profiled_session(viewer, tmp_path)
    cells = session.cells
    cell = cells[cells[PERT_INAME] == "BI-2536"].iloc[0]
    key = (cell[PLATE], cell["Metadata_Well"], int(cell[SITE]), int(cell["label"]))
    state_of(viewer).select([key])  # as a click in the viewer does
    qtbot.waitUntil(lambda: not widget.running, timeout=20_000)
    assert widget.query is not None and widget.query.description.startswith("cell ")
    assert set(table_column(widget, PERTURBATION)[:2]) == {"BI-2536", "PLK1"}
    qtbot.waitUntil(lambda: widget.gallery_worker is None, timeout=20_000)
    captions = widget.gallery_captions()
    assert captions[0] == "query" and len(captions) == 5
    pixmaps = [
        widget.gallery.itemAt(i).widget().pixmap()
        for i in range(widget.gallery.count())
        if widget.gallery.getItemPosition(i)[0] > 0
    ]
    assert len(pixmaps) == 1 + 4 * 2 and all(not p.isNull() for p in pixmaps)


def test_clicking_a_row_opens_its_best_well(dock, tmp_path):
    viewer, widget = dock
    session = profiled_session(viewer, tmp_path)
    assert widget.find("perturbation", "BI-2536 · compound")
    widget.table.clicked.emit(widget.table.model().index(0, 1))
    best = widget.ranking.iloc[0]
    assert field_key(session)[:2] == (best[BEST_PLATE], best[BEST_WELL])
    assert "PLK1" in widget.status.text()


def test_well_query_finds_its_replicates(dock, tmp_path):
    viewer, widget = dock
    profiled_session(viewer, tmp_path)
    assert widget.find("well", "P-COMPOUND A04")  # a PFI-1 well (wells 4-6 of the plate)
    assert table_column(widget, PERTURBATION)[0] == "PFI-1"


def test_cell_query_without_selection_or_negcon_says_why(dock, tmp_path):
    viewer, widget = dock
    session = profiled_session(viewer, tmp_path)
    assert not widget.find("selected cell")
    assert widget.status.text() == NO_CELL
    session.cells = session.cells[session.cells[CONTROL_TYPE] != NEGATIVE_CONTROL]
    state_of(viewer).events.cells_changed.emit()
    row = session.cells.iloc[0]
    session.selected = [(row[PLATE], row["Metadata_Well"], int(row[SITE]), int(row["label"]))]
    assert not widget.find("selected cell")
    assert "has no negative controls" in widget.status.text()


def cell_key(cell) -> tuple:
    return (cell[PLATE], cell["Metadata_Well"], int(cell[SITE]), int(cell["label"]))


def test_a_selection_is_ranked_in_the_worker_not_the_gui_thread(dock, qtbot, tmp_path, monkeypatch):
    viewer, widget = dock
    session = profiled_session(viewer, tmp_path)
    threads = []
    rank = ranking.rank_perturbations

    def recorded(*args, **kwargs):
        threads.append(threading.current_thread())
        return rank(*args, **kwargs)

    monkeypatch.setattr(ranking, "rank_perturbations", recorded)  # what the worker runs
    cells = session.cells[session.cells[PERT_INAME] == "BI-2536"]
    first, second = cell_key(cells.iloc[0]), cell_key(cells.iloc[1])
    for key in (first, second):  # two quick clicks: the second supersedes the first
        state_of(viewer).select([key])
    assert widget.ranking is None and widget.running  # the click returned before the table
    qtbot.waitUntil(lambda: not widget.running, timeout=20_000)
    assert threads and threading.main_thread() not in threads
    assert widget.query.description.startswith(f"cell {second[3]} of ")
    assert set(table_column(widget, PERTURBATION)[:2]) == {"BI-2536", "PLK1"}
    qtbot.wait(200)  # a late result of the first click must not replace the second's
    assert widget.query.description.startswith(f"cell {second[3]} of ")

"""Compare dock in a real napari viewer (run under xvfb-run)."""

from __future__ import annotations

import pandas as pd
import pytest
from test_profile_map import profiled_session
from test_similarity import synthetic_cells, write_synthetic_project

from napari_phenoscope._widgets._viewer import field_key, open_plate
from napari_phenoscope._widgets.compare_dock import NO_PLATE, NO_PROFILES, CompareDock
from napari_phenoscope._widgets.similar_dock import SimilarDock
from napari_phenoscope.session.state import state_of

pytestmark = pytest.mark.gui


@pytest.fixture
def dock(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = CompareDock(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, widget


def finished(widget, qtbot) -> None:
    qtbot.waitUntil(lambda: widget.worker is None, timeout=300_000)


def test_bad_states_show_messages(dock, tmp_path):
    viewer, widget = dock
    assert not widget.run("BI-2536 · compound", "PLK1 · crispr")
    assert widget.status.text() == NO_PLATE
    write_synthetic_project(tmp_path, synthetic_cells(cells_per_well=2))
    open_plate(viewer, tmp_path)
    assert not widget.run("BI-2536 · compound", "PLK1 · crispr")
    assert widget.status.text() == NO_PROFILES


def test_bi2536_vs_plk1_draws_the_comparison_opens_cells_and_exports(dock, qtbot, tmp_path):
    viewer, widget = dock
    session = profiled_session(viewer, tmp_path / "plate")
    assert widget.run("BI-2536 · compound", "PLK1 · crispr", mode="perturbation", with_vit=False)
    finished(widget, qtbot)
    comparison = widget.comparison
    assert comparison is not None, widget.status.text()
    explanation = comparison.explanations["vit"]
    assert explanation.rank == 1 and explanation.match_name == "PLK1 (crispr)"
    assert widget.status.text().startswith(f"vit: {explanation.similarity:+.2f}, #1 of")
    assert comparison.thumbnails is not None and len(widget.tiles.boxes) == len(comparison.cells)
    # a click on a match cell opens its field and selects it
    row = int((comparison.cells["role"] == "match").to_numpy().argmax())
    x0, x1, y0, y1, _ = widget.tiles.boxes[row]
    assert widget.tiles.cell_at((x0 + x1) / 2, (y0 + y1) / 2) == row
    widget.open_cell(row)
    cell = comparison.cells.iloc[row]
    assert field_key(session) == (
        cell["Metadata_Plate"],
        cell["Metadata_Well"],
        cell["Metadata_Site"],
    )
    assert session.selected == [field_key(session) + (int(cell["label"]),)]
    written = widget.export(tmp_path / "why.png")
    assert written[0].stat().st_size > 50_000
    summary = pd.read_csv(tmp_path / "why_summary.csv")
    assert summary.loc[0, "rank"] == 1


def test_an_unknown_match_is_one_line_in_the_dock(dock, qtbot, tmp_path):
    viewer, widget = dock
    profiled_session(viewer, tmp_path / "plate")
    widget.run("BI-2536 · compound", "KRAS · crispr", mode="perturbation", with_vit=False)
    finished(widget, qtbot)
    assert widget.status.text() == "no well profile of perturbation 'KRAS' in modality crispr"
    assert widget.comparison is None


def test_similar_asks_why_a_row_matches(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    similar, compare = SimilarDock(viewer), CompareDock(viewer)
    compare.vit_check.setChecked(False)  # the hook is under test, not the ViT
    profiled_session(viewer, tmp_path / "plate")
    assert similar.find("perturbation", "BI-2536 · compound")
    requests = []
    state_of(viewer).events.compare_requested.connect(requests.append)
    similar.compare_row(0)
    assert requests == [("perturbation", "BI-2536 · compound", similar.ranking.index[0])]
    finished(compare, qtbot)
    assert compare.comparison is not None, compare.status.text()
    assert compare.comparison.main.match_name == "PLK1 (crispr)"

"""Compare dock in a real napari viewer (run under xvfb-run)."""

from __future__ import annotations

import pandas as pd
import pytest
from test_profile_map import profiled_session
from test_rank import synthetic_cells, write_synthetic_project

from napari_phenoscope._widgets._viewer import open_plate
from napari_phenoscope._widgets.compare_dock import NO_PLATE, NO_PROFILES, CompareDock
from napari_phenoscope._widgets.similar_dock import SimilarDock
from napari_phenoscope.session.comparison_request import AUTOMATIC, NO_CONTRAST
from napari_phenoscope.session.positions import field_key
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
    axes, x0, x1, y0, y1, _ = widget.tiles.boxes[row]
    assert widget.tiles.cell_at(axes, (x0 + x1) / 2, (y0 + y1) / 2) == row
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
    assert summary.loc[0, "rank"] == 1 and list(summary["side"]) == ["match", "contrast"]


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


def default_width_dock(make_napari_viewer):
    """The Compare dock as the plugin adds it (tabbed on the right) in a 1680 x 1180 window."""
    from napari_phenoscope._widgets.docks import add_all_docks

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1680, 1180)
    docks = add_all_docks(viewer)
    docks.show("Compare")
    return viewer, docks.compare


def test_the_figure_fits_the_dock_at_its_default_width(make_napari_viewer, qtbot, tmp_path):
    viewer, widget = default_width_dock(make_napari_viewer)
    profiled_session(viewer, tmp_path / "plate")
    assert widget.run("BI-2536 · compound", "PLK1 · crispr", "perturbation", with_vit=False)
    finished(widget, qtbot)
    assert widget.comparison is not None, widget.status.text()
    qtbot.waitUntil(lambda: widget.canvas.height() >= widget.canvas.minimumHeight() > 360)
    widget.canvas.draw()
    viewport = widget.scroll.viewport().width()
    assert not widget.scroll.horizontalScrollBar().isVisible()
    assert widget.canvas.width() <= viewport
    for axes in widget.figure.axes:  # nothing drawn past the dock's right edge
        assert axes.get_tightbbox().x1 <= widget.canvas.width() + 1, axes.get_title()
    # three columns (query | match | contrast) and the control row, every cell >= 96 px
    titles = [axes.get_title(loc="left").replace("\n", " ") for axes in widget.tiles.axes]
    assert [t.split(":")[0] for t in titles] == [
        "query",
        "match",
        "contrast",
        "negative controls (same colours, same contrast)",
    ]
    assert "PLK1 knockout" in titles[1] and "BRD4 knockout" in titles[2]
    lefts = [axes.get_window_extent().x0 for axes in widget.tiles.axes[:3]]
    assert lefts == sorted(lefts)  # side by side, left to right
    for axes, x0, x1, *_ in widget.tiles.boxes:
        width = axes.transData.transform((x1, 0))[0] - axes.transData.transform((x0, 0))[0]
        assert width >= 96
    viewer.window._qt_window.resize(1300, 1180)  # a narrower dock: the figure reflows
    qtbot.wait(200)
    widget.canvas.draw()
    assert not widget.scroll.horizontalScrollBar().isVisible()
    assert (
        widget.figure.get_size_inches()[0] * widget.figure.dpi
        <= widget.scroll.viewport().width() + 1
    )


def test_the_contrast_picker(dock, qtbot, tmp_path):
    viewer, widget = dock
    profiled_session(viewer, tmp_path / "plate")
    items = [widget.versus_combo.itemText(i) for i in range(widget.versus_combo.count())]
    assert items[0] == AUTOMATIC and items[-1] == NO_CONTRAST and "BRD4 · crispr" in items
    widget.run("BI-2536 · compound", "BRD4 · crispr", "perturbation", with_vit=False,
               versus="PLK1 · crispr")  # fmt: skip
    finished(widget, qtbot)
    assert widget.comparison.contrast.match_name == "PLK1 (crispr)"
    widget.run(versus=NO_CONTRAST)
    finished(widget, qtbot)
    assert widget.comparison.contrast is None
    assert [t.get_title(loc="left").split(":")[0] for t in widget.tiles.axes][:2] == [
        "query",
        "match",
    ]


@pytest.mark.slow
def test_the_dock_exports_the_figure_the_command_writes(
    make_napari_viewer, qtbot, profiled_small_demo, tmp_path
):
    from napari_phenoscope.cli import main
    from napari_phenoscope.profiling.outputs import read_pipeline_output

    plates, out = profiled_small_demo
    command = tmp_path / "command.png"
    argv = ["explain", str(out), "BI-2536", "crispr:PLK1", "--versus", "crispr:BRD4",
            "--images", str(plates), "--out", str(command)]  # fmt: skip
    assert main(argv) == 0
    viewer = make_napari_viewer()
    widget = CompareDock(viewer)
    session = open_plate(viewer, plates)
    output = read_pipeline_output(out, need="well_profiles", cell_columns="profiled")
    session.well_profiles, session.cells = output.well_profiles, output.cells
    state_of(viewer).events.cells_changed.emit()
    assert widget.run("BI-2536 · compound", "PLK1 · crispr", "perturbation", with_vit=True,
                      versus="BRD4 · crispr")  # fmt: skip
    finished(widget, qtbot)
    assert widget.comparison is not None, widget.status.text()
    exported = widget.export(tmp_path / "dock.png")[0]
    import numpy as np
    from matplotlib.image import imread

    assert imread(exported).shape == (1080, 1920, 4)  # a 16:9 slide at 150 dpi
    np.testing.assert_array_equal(imread(exported), imread(command))
    for table in ("summary", "groups", "cells", "occlusion"):
        assert (tmp_path / f"dock_{table}.csv").read_text() == (
            tmp_path / f"command_{table}.csv"
        ).read_text()

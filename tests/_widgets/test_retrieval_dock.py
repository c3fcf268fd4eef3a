"""Retrieval (mAP) dock in a real napari viewer (run under xvfb-run)."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt, QThreadPool
from test_profile_map import profiled_session
from test_rank import FEATURES, synthetic_cells, write_synthetic_project

import napari_phenoscope.evaluation.precision as metrics
from napari_phenoscope._widgets._frame_model import SORT_ROLE
from napari_phenoscope._widgets._profile_map_requests import profile_map_requests_of
from napari_phenoscope._widgets._viewer import open_plate
from napari_phenoscope._widgets.retrieval_dock import NO_PLATE, NO_PROFILES, RetrievalDock
from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CONTROL_TYPE,
    MODALITY,
    NEGATIVE_CONTROL,
    PLATE,
    WELL,
)
from napari_phenoscope.session.retrieval import QUERY_COLUMNS, fraction_retrieved_table

pytestmark = pytest.mark.gui


@pytest.fixture
def dock(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = RetrievalDock(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, widget


def computed(widget, qtbot, task: str, feature_set: str = "vit"):
    assert widget.compute(task, feature_set), widget.status.text()
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)
    assert (task, feature_set) in widget.results, widget.status.text()
    return widget.results[(task, feature_set)]


def test_bad_states_show_messages(dock, qtbot, tmp_path):
    viewer, widget = dock
    assert not widget.compute("replicate")
    assert widget.status.text() == NO_PLATE
    write_synthetic_project(tmp_path / "bare", synthetic_cells(cells_per_well=2))
    open_plate(viewer, tmp_path / "bare")
    assert not widget.compute("replicate")
    assert widget.status.text() == NO_PROFILES
    session = profiled_session(viewer, tmp_path / "profiled")
    profiles = session.well_profiles["vit"]
    session.well_profiles["vit"] = profiles[profiles[CONTROL_TYPE] != NEGATIVE_CONTROL]
    assert widget.compute("replicate", "vit")
    qtbot.waitUntil(lambda: not widget.running, timeout=60_000)
    assert widget.status.text().startswith("Error: vit well profiles: no negative controls")
    assert not widget.results


def test_replicate_summary_table_and_plot(dock, qtbot, tmp_path):
    viewer, widget = dock
    profiled_session(viewer, tmp_path)
    result = computed(widget, qtbot, "replicate")
    # the summary shows, per modality, the mean of the per-group mAPs it was computed from
    for modality, groups in result.per_group.groupby(MODALITY):
        expected = groups[metrics.MAP].mean()
        assert f"{modality}: mAP {expected:.3f}" in widget.summary.text()
    model = widget.model
    assert model.rowCount() == len(result.per_query)
    shown = [c for c in QUERY_COLUMNS if c in result.per_query.columns]
    assert model.column_names() == shown
    # sorting by AP orders the rows numerically
    column = shown.index(metrics.AP)
    widget.table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
    values = [widget.proxy.index(r, column).data(SORT_ROLE) for r in range(model.rowCount())]
    assert values == sorted(values, reverse=True)
    # one point per group, split into retrieved / not retrieved
    offsets = [c.get_offsets() for c in widget.axes.collections]
    assert sum(len(o) for o in offsets) == len(result.per_group)


def test_clicking_a_query_highlights_its_wells_on_the_map(dock, qtbot, tmp_path):
    viewer, widget = dock
    session = profiled_session(viewer, tmp_path)
    computed(widget, qtbot, "replicate")
    received = []
    profile_map_requests_of(viewer).highlight_wells.connect(received.append)
    widget.table.clicked.emit(widget.proxy.index(0, 0))
    source_row = widget.proxy.mapToSource(widget.proxy.index(0, 0)).row()
    query = widget._per_query.iloc[source_row]
    profiles = session.well_profiles["vit"]
    same = profiles[
        (profiles[BROAD_SAMPLE] == query[BROAD_SAMPLE]) & (profiles[MODALITY] == query[MODALITY])
    ]
    expected = list(zip(same[PLATE], same[WELL], strict=True))
    assert received == [expected] and len(expected) >= 2
    assert f"{len(expected)} well(s)" in widget.status.text()


def test_fraction_retrieved_bars_compare_feature_sets_and_export(dock, qtbot, tmp_path):
    viewer, widget = dock
    session = profiled_session(viewer, tmp_path)
    profiles = session.well_profiles["vit"]
    session.add_well_profiles({"classical": profiles.drop(columns=FEATURES[8:])})
    vit = computed(widget, qtbot, "compound-gene", "vit")
    classical = computed(widget, qtbot, "compound-gene", "classical")
    table = fraction_retrieved_table(widget.results, "compound-gene")
    assert list(table.columns) == ["classical", "vit"]
    assert list(table.index) == ["compound -> crispr", "compound -> orf"]
    np.testing.assert_allclose(table["vit"], vit.summary["fraction_retrieved"])
    np.testing.assert_allclose(table["classical"], classical.summary["fraction_retrieved"])
    widget.plot_combo.setCurrentText("fraction retrieved")
    heights = [patch.get_height() for patch in widget.axes.patches]
    np.testing.assert_allclose(heights, [*table["classical"], *table["vit"]])
    png = widget.export(tmp_path / "map.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cancel_drops_the_result(dock, qtbot, tmp_path):
    viewer, widget = dock
    profiled_session(viewer, tmp_path)
    assert widget.compute("sister", "vit")
    widget.cancel()
    assert not widget.running and widget.compute_button.isEnabled()
    assert widget.status.text().startswith("Cancelled")
    qtbot.waitUntil(lambda: QThreadPool.globalInstance().activeThreadCount() == 0)
    qtbot.wait(50)  # let a late result reach the event loop, if one were to land
    assert not widget.results and widget.shown is None

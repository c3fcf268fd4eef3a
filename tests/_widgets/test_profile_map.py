"""Profile map dock in a real napari viewer (run under xvfb-run): map <-> viewer links."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent
from qtpy.QtCore import QThreadPool
from test_rank import (
    FEATURES,
    cell_center,
    field_labels,
    synthetic_cells,
    synthetic_well_profiles,
    write_synthetic_project,
)

from napari_phenoscope._widgets._cells import SELECTED_LAYER, select_cell_at, show_field_labels
from napari_phenoscope._widgets._profile_map_requests import profile_map_requests_of
from napari_phenoscope._widgets._viewer import open_plate, show_field
from napari_phenoscope._widgets.profile_map import NO_PLATE, ProfileMap
from napari_phenoscope.constants import MODALITY, PERT_INAME, PLATE, SITE, WELL
from napari_phenoscope.profile_map.points import points_in_polygon
from napari_phenoscope.session.map_layout import NO_CELLS, NO_WELLS
from napari_phenoscope.session.positions import field_key
from napari_phenoscope.session.state import state_of

pytestmark = pytest.mark.gui


def profiled_session(viewer, root, segmented_plate: str = "P-COMPOUND"):
    """Open the synthetic project and fill the session as the Profile dock would."""
    cells = synthetic_cells()
    write_synthetic_project(root, cells)
    session = open_plate(viewer, root)
    session.cells = cells
    session.feature_columns = {"vit": list(FEATURES)}
    session.well_profiles = {"vit": synthetic_well_profiles(cells)}
    for (plate, well, site), rows in cells.groupby([PLATE, WELL, SITE]):
        if plate == segmented_plate:  # the other plates have cells but no label images
            labels = field_labels(int(rows["label"].max()))
            session.labels[(plate, well, int(site))] = (labels, labels)
    state_of(viewer).events.cells_changed.emit()
    return session


@pytest.fixture
def profile_map_dock(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    widget = ProfileMap(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, widget


def computed(widget, qtbot, level="cells"):
    assert widget.compute(level=level, feature_set="vit"), widget.status.text()
    # generous: UMAP's numba compilation alone takes minutes on a loaded 2-core machine
    qtbot.waitUntil(lambda: not widget.running, timeout=600_000)
    assert widget.embedding is not None, widget.status.text()
    widget.canvas.draw()
    return widget.embedding


def click_at(widget, data_xy, button=1):
    x, y = widget.axes.transData.transform(data_xy)
    event = MouseEvent("button_press_event", widget.canvas, x, y, button=button)
    widget.canvas.callbacks.process("button_press_event", event)


def isolated_point(embedding: np.ndarray, widget) -> int:
    """A point with no other point within 3 pixels, so a click on it is unambiguous."""
    pixels = widget.axes.transData.transform(embedding)
    distances = np.linalg.norm(pixels[:, None] - pixels[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    return int(np.nonzero(distances.min(axis=1) > 3)[0][0])


def test_bad_states_show_messages_not_tracebacks(profile_map_dock, tmp_path):
    viewer, widget = profile_map_dock
    assert not widget.compute()
    assert widget.status.text() == NO_PLATE
    cells = synthetic_cells(cells_per_well=2)
    write_synthetic_project(tmp_path, cells)
    open_plate(viewer, tmp_path)
    assert not widget.compute(level="cells")
    assert widget.status.text() == NO_CELLS
    assert not widget.compute(level="wells")
    assert widget.status.text() == NO_WELLS


def test_clicking_a_point_selects_its_cell_and_moves_the_viewer(profile_map_dock, qtbot, tmp_path):
    viewer, widget = profile_map_dock
    session = profiled_session(viewer, tmp_path)
    embedding = computed(widget, qtbot)
    assert embedding.shape == (len(session.cells), 2)
    legend = [text.get_text() for text in widget.plot.figure.legends[0].get_texts()]
    assert widget.colour_combo.currentText() == MODALITY
    assert set(legend) == {"compound", "crispr", "orf"}

    compound = np.nonzero((widget.table[PLATE] == "P-COMPOUND").to_numpy())[0]
    pixels = widget.axes.transData.transform(embedding)
    distances = np.linalg.norm(pixels[:, None] - pixels[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    target = next(
        int(i) for i in compound if distances[i].min() > 3 and widget.table.loc[i, WELL] != "A01"
    )
    row = widget.table.iloc[target]
    key = (row[PLATE], row[WELL], int(row[SITE]), int(row["label"]))
    click_at(widget, embedding[target])

    assert session.selected == [key]
    assert widget.highlighted.tolist() == [target]  # the map answers before the field is read
    assert widget.status.text() == f"1 cell(s) selected; opening {key[0]} {key[1]} site {key[2]}…"
    qtbot.waitUntil(lambda: not widget.opening_field, timeout=10_000)
    assert field_key(session) == key[:3]  # the cell's field was loaded, in a worker
    assert widget.status.text() == "1 cell(s) selected; 1 in the field on show."
    mask = viewer.layers[SELECTED_LAYER].data
    np.testing.assert_array_equal(mask > 0, field_labels(10) == key[3])
    np.testing.assert_allclose(viewer.scene.camera.center[-2:], cell_center(key[3]))
    assert widget.highlighted.tolist() == [target]
    np.testing.assert_allclose(widget.plot.highlight_artist.get_offsets(), embedding[[target]])

    # navigating elsewhere clears the highlight; coming back shows it again
    show_field(viewer, session, session.find("P-COMPOUND", "A01", 1))
    assert not viewer.layers[SELECTED_LAYER].data.any()
    show_field(viewer, session, session.find(*key[:3]))
    np.testing.assert_array_equal(
        viewer.layers[SELECTED_LAYER].data > 0, field_labels(10) == key[3]
    )


def test_unsegmented_fields_get_rings_at_the_cell_centres(profile_map_dock, qtbot, tmp_path):
    viewer, widget = profile_map_dock
    session = profiled_session(viewer, tmp_path, segmented_plate="none")
    embedding = computed(widget, qtbot)
    target = isolated_point(embedding, widget)
    click_at(widget, embedding[target])
    qtbot.waitUntil(lambda: not widget.opening_field, timeout=10_000)
    label = int(session.selected[0][3])
    layer = viewer.layers[SELECTED_LAYER]
    assert layer.__class__.__name__ == "Points"
    np.testing.assert_allclose(layer.data, [cell_center(label)])


def test_lasso_selects_the_cells_inside(profile_map_dock, qtbot, tmp_path):
    viewer, widget = profile_map_dock
    session = profiled_session(viewer, tmp_path)
    embedding = computed(widget, qtbot)
    widget.lasso_button.setChecked(True)
    low, high = np.percentile(embedding, [20, 60], axis=0)
    corners = [(low[0], low[1]), (high[0], low[1]), (high[0], high[1]), (low[0], high[1])]
    canvas = widget.canvas
    path = [*corners, corners[0]]
    names = ["button_press_event"] + ["motion_notify_event"] * (len(path) - 1)
    names.append("button_release_event")
    for name, xy in zip(names, [*path, path[-1]], strict=True):
        x, y = widget.axes.transData.transform(xy)
        canvas.callbacks.process(name, MouseEvent(name, canvas, x, y, button=1))
    inside = (embedding >= low).all(axis=1) & (embedding <= high).all(axis=1)
    expected = np.nonzero(inside)[0]
    assert len(expected) > 1
    np.testing.assert_array_equal(points_in_polygon(embedding, corners), expected)
    expected_keys = widget.index.keys_at(expected)
    assert sorted(session.selected) == sorted(expected_keys)
    assert widget.highlighted.tolist() == expected.tolist()
    # a click while the lasso is on does not replace the selection
    click_at(widget, embedding[0])
    assert sorted(session.selected) == sorted(expected_keys)
    widget.lasso_button.setChecked(False)  # clicks pick points again
    assert widget.plot.lasso is None
    target = isolated_point(embedding, widget)
    click_at(widget, embedding[target])
    assert widget.highlighted.tolist() == [target]


def test_selecting_a_cell_in_the_viewer_highlights_its_point(profile_map_dock, qtbot, tmp_path):
    viewer, widget = profile_map_dock
    session = profiled_session(viewer, tmp_path)
    computed(widget, qtbot)
    assert show_field_labels(viewer, session)  # field on show: P-COMPOUND A01 site 1
    selected = select_cell_at(viewer, (*cell_center(3),))
    assert selected == ("P-COMPOUND", "A01", 1, 3)
    expected = widget.index.indices([selected])
    assert len(expected) == 1
    assert widget.highlighted.tolist() == expected.tolist()
    assert tuple(widget.table.iloc[expected[0]][[PLATE, WELL, SITE, "label"]]) == selected


def test_well_map_opens_the_clicked_well_and_shows_mAP_queries(profile_map_dock, qtbot, tmp_path):
    viewer, widget = profile_map_dock
    session = profiled_session(viewer, tmp_path)
    embedding = computed(widget, qtbot, level="wells")
    assert len(embedding) == len(session.well_profiles["vit"])
    target = isolated_point(embedding, widget)
    plate, well = widget.index.keys[target]
    click_at(widget, embedding[target])
    assert field_key(session)[:2] == (plate, well)
    queries = [("P-CRISPR", "A01"), ("P-CRISPR", "A02")]
    profile_map_requests_of(viewer).highlight_wells.emit(queries)
    assert sorted(widget.index.keys_at(widget.highlighted)) == queries


def test_cancel_frees_the_dock_and_drops_the_layout(profile_map_dock, qtbot, tmp_path):
    viewer, widget = profile_map_dock
    profiled_session(viewer, tmp_path)
    assert widget.compute(level="cells", feature_set="vit")
    widget.cancel()
    assert not widget.running and widget.status.text() == "Map cancelled."
    assert widget.compute_button.isEnabled() and not widget.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: QThreadPool.globalInstance().activeThreadCount() == 0, timeout=60_000)
    qtbot.wait(50)  # a late result would reach the event loop now
    assert widget.embedding is None and widget.status.text() == "Map cancelled."
    # the dock works again, and the napari progress bars are not blocked
    computed(widget, qtbot)
    assert widget.progress_bar.value() == 100


def test_map_is_cached_and_exports_png_and_svg(profile_map_dock, qtbot, tmp_path):
    viewer, widget = profile_map_dock
    profiled_session(viewer, tmp_path / "plate")
    first = computed(widget, qtbot)
    assert computed(widget, qtbot) is first  # the same map, straight from the cache
    png = widget.export(tmp_path / "map.png")
    svg = widget.export(tmp_path / "map.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text()[:500]
    widget.max_cells.setValue(100)  # a seeded subset of the cells
    assert len(computed(widget, qtbot)) == 100
    assert len(widget.table) == 100 and widget.table[FEATURES].notna().all().all()


def test_large_maps_are_drawn_as_an_image_and_still_click_lasso_and_pan(
    profile_map_dock, qtbot, tmp_path, monkeypatch
):
    """The raster path (a million points in use), forced here on the small synthetic map."""
    from napari_phenoscope._widgets import _scatter_canvas

    monkeypatch.setattr(_scatter_canvas, "RASTER_ABOVE", 10)
    monkeypatch.setattr(_scatter_canvas, "MAX_RINGS", 3)
    viewer, widget = profile_map_dock
    session = profiled_session(viewer, tmp_path)
    embedding = computed(widget, qtbot)
    image = widget.plot.points_image
    assert image is not None and not widget.axes.collections[:-1]  # no marker collection
    pixels = image.get_array()
    assert (pixels[..., 3] > 0).sum() >= len(np.unique(embedding, axis=0)) * 0.5

    target = isolated_point(embedding, widget)
    click_at(widget, embedding[target])
    row = widget.table.iloc[target]
    assert session.selected == [(row[PLATE], row[WELL], int(row[SITE]), int(row["label"]))]
    assert widget.highlighted.tolist() == [target]
    assert image.get_array() is pixels  # a selection repaints the rings, not the points

    # pan: the next draw re-renders the image for the new window, once for both limits
    (x0, x1), (y0, y1) = widget.axes.get_xlim(), widget.axes.get_ylim()
    renders, render = [], widget.plot._render
    widget.plot._render = lambda *args: (renders.append(1), render(*args))
    widget.axes.set_xlim(x0 + (x1 - x0) / 2, x1 + (x1 - x0) / 2)
    widget.axes.set_ylim(y0 + (y1 - y0) / 4, y1 + (y1 - y0) / 4)
    widget.canvas.draw()
    assert len(renders) == 1
    assert image.get_extent()[:3] == pytest.approx(
        [x0 + (x1 - x0) / 2, x1 + (x1 - x0) / 2, y0 + (y1 - y0) / 4]
    )
    assert image.get_array() is not pixels
    widget.canvas.draw()  # the same window: nothing to re-render
    assert len(renders) == 1

    # a lasso of many points: selected, and drawn as an image rather than rings
    widget.axes.set_xlim(x0, x1)
    widget.axes.set_ylim(y0, y1)
    widget.canvas.draw()
    low, high = np.percentile(embedding, [5, 95], axis=0)
    corners = [(low[0], low[1]), (high[0], low[1]), (high[0], high[1]), (low[0], high[1])]
    widget.plot._lasso_done(corners)
    expected = points_in_polygon(embedding, corners)
    assert len(expected) > 3 and widget.highlighted.tolist() == expected.tolist()
    assert len(session.selected) == len(expected)
    assert len(widget.plot.highlight_artist.get_offsets()) == 0
    assert (widget.plot.highlight_image.get_array()[..., 3] > 0).any()
    png = widget.export(tmp_path / "big.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = widget.export(tmp_path / "big.svg").read_text()
    assert svg.count("<image") == 2  # the points and the highlighted points, as images
    widget.canvas.draw()  # back on screen: rendered again at the screen's resolution
    assert image.get_array().shape[:2] == widget.plot._view()[1]


def test_the_map_marks_and_labels_the_query_its_targets_and_the_match(profile_map_dock, tmp_path):
    from matplotlib.colorbar import Colorbar

    from napari_phenoscope._widgets.similar_dock import SimilarDock

    viewer, widget = profile_map_dock
    similar = SimilarDock(viewer)
    viewer.window.add_dock_widget(similar)
    session = profiled_session(viewer, tmp_path)
    wells = session.well_profiles["vit"]
    # any layout will do: the marks follow the wells, not the UMAP (no layout computed here)
    widget.set_map(wells, "wells", np.random.default_rng(0).normal(size=(len(wells), 2)))
    assert similar.find("perturbation", "BI-2536 · compound"), similar.status.text()
    labels = widget.marked_labels
    assert labels[0] == "BI-2536" and {"PLK1 (crispr)", "BRD4 (crispr)"} <= set(labels)
    written = {text.get_text() for text in widget.axes.texts}
    assert {"BI-2536", "PLK1 (crispr)", "BRD4 (crispr)"} <= written
    query = next(m for m in widget.plot.marks if m.role == "query")
    bi2536 = wells[PERT_INAME] == "BI-2536"
    assert sorted(query.indices) == sorted(np.flatnonzero(bi2536.to_numpy()))
    # clicking a ranking row makes it the match, labelled on the map
    row = next(i for i, r in enumerate(similar.ranking.itertuples()) if r.perturbation == "DMSO")
    similar.open_row(row)
    assert "DMSO" in widget.marked_labels[-1]
    # the map wears napari's dark theme; a number column gets a colour bar, not a legend
    assert widget.plot.figure.get_facecolor()[:3] == pytest.approx(
        (0x23 / 255, 0x24 / 255, 0x2B / 255)
    )
    widget.colour_combo.setCurrentText(FEATURES[0])
    assert isinstance(widget.plot._colourbar, Colorbar)
    assert {text.get_text() for text in widget.axes.texts} >= {"BI-2536"}  # marks redrawn


def test_cell_and_nucleus_labels_are_drawn_as_contours(profile_map_dock, tmp_path):
    from napari_phenoscope._widgets._workers import LABELS_CELLS, LABELS_NUCLEI

    viewer, _ = profile_map_dock
    session = profiled_session(viewer, tmp_path)
    assert show_field_labels(viewer, session)
    for name in (LABELS_NUCLEI, LABELS_CELLS):
        assert viewer.layers[name].contour >= 1, name


def test_labels_of_close_marks_are_drawn_apart_with_leader_lines(qtbot, tmp_path):
    import itertools

    import pandas as pd

    from napari_phenoscope._widgets._scatter_canvas import Mark, ScatterCanvas
    from napari_phenoscope.profile_map.colours import point_colours

    canvas = ScatterCanvas(on_select=lambda _: None)
    qtbot.addWidget(canvas)
    canvas.resize(500, 420)
    rng = np.random.default_rng(1)
    embedding = np.vstack([rng.normal(size=(200, 2)), [[3.0, 3.0], [3.01, 3.0], [3.0, 3.02]]])
    canvas.show_points(embedding, point_colours(pd.Series(["a"] * 203)), "kind", "close marks")
    canvas.set_marks(
        [
            Mark("match", "CYT-997", np.array([202])),
            Mark("target", "PLK1 (crispr)", np.array([201])),
            Mark("query", "BI-2536", np.array([200])),
            Mark("target", "BRD4 (crispr)", np.array([201])),
        ]
    )
    canvas.canvas.draw()
    renderer = canvas.figure.canvas.get_renderer()
    texts = [a for a in canvas.axes.texts if a.get_text()]
    assert [t.get_text() for t in texts][0] == "BI-2536"  # the query is placed first
    boxes = {t.get_text(): t.get_bbox_patch().get_window_extent(renderer) for t in texts}
    assert set(boxes) == {"BI-2536", "PLK1 (crispr)", "BRD4 (crispr)", "CYT-997"}
    for (a, box_a), (b, box_b) in itertools.combinations(boxes.items(), 2):
        assert not box_a.overlaps(box_b), (a, b)
    tip = canvas.axes.transData.transform([3.0, 3.0])
    for text in texts:
        box = boxes[text.get_text()]
        near_x = max(box.x0 - tip[0], tip[0] - box.x1, 0)
        near_y = max(box.y0 - tip[1], tip[1] - box.y1, 0)
        assert max(near_x, near_y) < 120  # near its point (pixels)
        assert text.arrow_patch is not None  # a leader line back to the point
        inside = canvas.axes.bbox.expanded(1.05, 1.05)  # the corner point's labels turn inwards
        assert inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1)
    canvas.export(tmp_path / "close_marks.png")

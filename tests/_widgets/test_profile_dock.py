"""Profile dock in a real napari viewer (run under xvfb-run): segment, embed, cancel, click."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tifffile
from skimage.draw import disk

import napari_phenoscope.session.compute as _compute
from conftest import phenix_name, write_tiny_plate
from napari_phenoscope._widgets._viewer import open_plate, show_field
from napari_phenoscope._widgets._workers import LABELS_CELLS, LABELS_NUCLEI
from napari_phenoscope._widgets.profile_dock import ProfileDock
from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.session.state import state_of

pytestmark = pytest.mark.gui

WELLS = ("A01", "A02", "B03")
SITES = (1, 2)
SIZE = 160
CELLS_PER_FIELD = 4


def cell_centres(well: str, site: int) -> list[tuple[int, int]]:
    """Four well-separated cell centres per field, jittered by a per-field seed."""
    rng = np.random.default_rng(abs(hash((well, site))) % 2**32)
    centres = []
    for gy in (40, 120):
        for gx in (40, 120):
            dy, dx = rng.integers(-6, 7, size=2)
            centres.append((gy + int(dy), gx + int(dx)))
    return centres


def write_cell_plate(root: Path, wells=WELLS, sites=SITES) -> Path:
    """A CPJUMP1-layout plate whose fields hold four round cells each (nucleus + cytoplasm)."""
    write_tiny_plate(root, wells=wells, sites=sites, size=SIZE)
    images = next((root / "images").glob("*/Images"))
    rng = np.random.default_rng(0)
    for well in wells:
        for site in sites:
            planes = {c: rng.normal(300, 20, (SIZE, SIZE)) for c in CHANNELS}
            for cy, cx in cell_centres(well, site):
                body = disk((cy, cx), 22, shape=(SIZE, SIZE))
                nucleus = disk((cy, cx), 9, shape=(SIZE, SIZE))
                for channel in CHANNELS[1:]:
                    planes[channel][body] += 2500 + 500 * CHANNELS.index(channel)
                planes["DNA"][nucleus] += 8000
            for channel, plane in planes.items():
                path = images / phenix_name(well, site, channel)
                tifffile.imwrite(path, np.clip(plane, 0, 65535).astype(np.uint16))
    return root


@pytest.fixture(scope="module")
def small_weights(tmp_path_factory) -> Path:
    """A seeded, untrained two-block MAE in the bundled weights format (fast on CPU)."""
    import torch

    from napari_phenoscope.models import (
        DecoderConfig,
        EncoderConfig,
        MaskedAutoencoder,
        create_encoder,
        save_weights,
    )

    torch.manual_seed(0)
    mae = MaskedAutoencoder(create_encoder(EncoderConfig(depth=2)), DecoderConfig(depth=1))
    path = tmp_path_factory.mktemp("weights") / "mae_small.safetensors"
    save_weights(path, mae.encoder, mae)
    return path


@pytest.fixture
def cell_plate(tmp_path: Path) -> Path:
    return write_cell_plate(tmp_path / "cells")


@pytest.fixture
def dock(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = ProfileDock(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, widget


def wait_done(qtbot, widget, timeout=60_000) -> None:
    qtbot.waitUntil(lambda: not widget.running, timeout=timeout)


def test_run_without_a_plate_says_so(dock):
    viewer, widget = dock
    assert widget.run() is False
    assert widget.status.text().startswith("No plate loaded")
    assert not widget.running


def test_profiling_the_field_adds_labels_with_features(dock, cell_plate, qtbot):
    viewer, widget = dock
    session = open_plate(viewer, cell_plate)
    changed = []
    state_of(viewer).events.cells_changed.connect(lambda: changed.append(True))
    assert widget.run(scope="field", features="classical", device="cpu")
    wait_done(qtbot, widget)
    key = ("BR00116991", "A01", 1)
    assert set(session.labels) == {key}
    cells_layer = viewer.layers[LABELS_CELLS]
    assert viewer.layers[LABELS_NUCLEI].metadata["phenoscope"]["field_key"] == key
    labels = np.unique(cells_layer.data)
    assert len(labels) - 1 == CELLS_PER_FIELD  # every drawn cell, nothing else
    features = cells_layer.features
    assert sorted(features["index"]) == sorted(labels[labels > 0])
    # napari's own lookup: hovering a cell's centre reports that cell's own table row
    for cy, cx in cell_centres("A01", 1):
        label = int(cells_layer.data[cy, cx])
        row = features.iloc[cells_layer._label_index[label]]
        assert row["label"] == label
        assert abs(row["Location_Center_Y"] - cy) < 3 and abs(row["Location_Center_X"] - cx) < 3
    assert len(session.cells) == CELLS_PER_FIELD
    assert session.cell_counts[("BR00116991", "A01")] == CELLS_PER_FIELD
    assert session.feature_columns["classical"]
    assert "Metadata_pert_iname" in session.cells.columns  # plate-map metadata joined
    assert changed
    assert widget.status.text().startswith(f"Profiled 1 of 1 field(s): {CELLS_PER_FIELD} cells")


def test_well_scope_embeds_both_sites_with_the_vit(dock, cell_plate, small_weights, qtbot):
    viewer, widget = dock
    session = open_plate(viewer, cell_plate)
    widget.weights_edit.setText(str(small_weights))
    show_field(viewer, session, session.find("BR00116991", "B03", 2))
    assert widget.run(scope="well", features="vit", device="cpu")
    wait_done(qtbot, widget)
    assert set(session.labels) == {("BR00116991", "B03", 1), ("BR00116991", "B03", 2)}
    vit = session.feature_columns["vit"]
    assert len(session.cells) == 2 * CELLS_PER_FIELD
    embeddings = session.cells[vit].to_numpy()
    assert np.isfinite(embeddings).all() and embeddings.std(axis=0).max() > 0
    assert viewer.layers[LABELS_CELLS].metadata["phenoscope"]["field_key"][2] == 2


def test_labels_follow_navigation(dock, cell_plate, qtbot):
    viewer, widget = dock
    session = open_plate(viewer, cell_plate)
    widget.run(scope="field", features="classical", device="cpu")
    wait_done(qtbot, widget)
    show_field(viewer, session, session.find("BR00116991", "A02", 1))
    assert LABELS_CELLS not in viewer.layers  # not segmented there
    assert widget.field_label.text() == "A02 site 1: not segmented in this session."
    show_field(viewer, session, 0)
    assert viewer.layers[LABELS_CELLS].metadata["phenoscope"]["field_key"][1] == "A01"
    assert widget.field_label.text() == "A01 site 1: 4 segmented cells."


def test_cancel_stops_between_fields(dock, cell_plate, qtbot, monkeypatch):
    viewer, widget = dock
    session = open_plate(viewer, cell_plate)
    calls = []
    original = _compute.profile_field

    def counted(*args, **kwargs):
        calls.append(args[1])
        if len(calls) > 1:  # hold field 2 until Cancel was pressed
            assert widget._cancel.wait(timeout=20)
        return original(*args, **kwargs)

    monkeypatch.setattr(_compute, "profile_field", counted)
    assert widget.run(scope="plate", features="classical", device="cpu")
    qtbot.waitUntil(lambda: len(session.labels) == 1, timeout=30_000)
    widget.cancel_button.click()
    wait_done(qtbot, widget)
    assert len(calls) == 2  # field 2 was under way; fields 3-6 never started
    assert list(session.labels) == [calls[0]]  # field 2 finished after Cancel: dropped
    assert widget.status.text().startswith("Cancelled after 1 of 6 field(s)")
    assert widget.run_button.isEnabled() and not widget.cancel_button.isEnabled()


def test_cancel_while_aggregating_says_so_and_leaves_the_dock_usable(
    dock, cell_plate, qtbot, monkeypatch
):
    viewer, widget = dock
    session = open_plate(viewer, cell_plate)
    original, aggregations = _compute.aggregate_wells, []

    def held_until_cancelled(*args, **kwargs):
        aggregations.append(1)
        assert widget._cancel.wait(timeout=20)
        return original(*args, **kwargs)

    monkeypatch.setattr(_compute, "aggregate_wells", held_until_cancelled)
    assert widget.run(scope="well", features="classical", device="cpu")
    qtbot.waitUntil(lambda: bool(aggregations), timeout=30_000)
    assert widget.status.text().endswith("Aggregating well profiles…")
    widget.cancel_button.click()
    assert widget.status.text() == "Cancelling the aggregation of well profiles…"
    wait_done(qtbot, widget)
    assert widget.status.text() == (
        "Cancelled while aggregating well profiles (profiled 2 of 2 field(s): 8 cells);"
        " the well profiles were not updated"
    )
    assert session.well_profiles == {}  # the result, computed after Cancel, was dropped
    assert len(session.labels) == 2  # the fields profiled before stay
    assert widget.run_button.isEnabled() and not widget.cancel_button.isEnabled()


def test_unreadable_field_is_a_message_and_the_run_goes_on(dock, cell_plate, qtbot):
    viewer, widget = dock
    session = open_plate(viewer, cell_plate)
    images = next((cell_plate / "images").glob("*/Images"))
    (images / phenix_name("A01", 2, "ER")).write_bytes(b"not a tiff")
    widget.run(scope="well", features="classical", device="cpu")
    wait_done(qtbot, widget)
    text = widget.status.text()
    assert text.startswith("Profiled 2 of 2 field(s): 4 cells. 1 error(s)")
    assert "cannot read image" in text and "r01c01f02p01-ch4" in text
    assert set(session.labels) == {("BR00116991", "A01", 1)}


def mouse(kind: str, position: tuple[float, float]):
    """A napari mouse event as the canvas sends it (wrapped, so drag generators see moves)."""
    from napari.utils._proxies import ReadOnlyWrapper

    event = SimpleNamespace(type=kind, position=position, is_dragging=kind == "mouse_move")
    event.modifiers = []
    event.view_direction, event.dims_displayed = None, (0, 1)
    return ReadOnlyWrapper(event)


def click(viewer, position, drag_to=None) -> None:
    from napari.utils.interactions import (
        mouse_move_callbacks,
        mouse_press_callbacks,
        mouse_release_callbacks,
    )

    mouse_press_callbacks(viewer, mouse("mouse_press", position))
    if drag_to is not None:
        mouse_move_callbacks(viewer, mouse("mouse_move", drag_to))
    mouse_release_callbacks(viewer, mouse("mouse_release", drag_to or position))


def test_clicking_a_cell_selects_it(dock, cell_plate, qtbot):
    viewer, widget = dock
    open_plate(viewer, cell_plate)
    widget.run(scope="field", features="classical", device="cpu")
    wait_done(qtbot, widget)
    selections = []
    state_of(viewer).events.selection_changed.connect(selections.append)
    cy, cx = cell_centres("A01", 1)[2]
    label = int(viewer.layers[LABELS_CELLS].data[cy, cx])
    click(viewer, (cy, cx))
    assert selections == [[("BR00116991", "A01", 1, label)]]
    assert state_of(viewer).session.selected == [("BR00116991", "A01", 1, label)]
    click(viewer, (2, 2))  # background
    other = cell_centres("A01", 1)[0]
    click(viewer, other, drag_to=(other[0] + 30, other[1]))  # a pan, not a click
    assert len(selections) == 1


def test_cells_table_keeps_one_row_per_cell_across_reruns(dock, cell_plate, qtbot):
    viewer, widget = dock
    session = open_plate(viewer, cell_plate)
    for _ in range(2):
        widget.run(scope="field", features="classical", device="cpu")
        wait_done(qtbot, widget)
    assert len(session.cells) == CELLS_PER_FIELD
    assert session.cells[[PLATE, WELL, SITE, "label"]].duplicated().sum() == 0


def test_well_profiles_are_normalised_to_the_plate_controls(dock, cell_plate, qtbot):
    viewer, widget = dock
    session = open_plate(viewer, cell_plate)
    assert widget.run(scope="plate", features="classical", device="cpu")
    wait_done(qtbot, widget)
    profiles = session.well_profiles["classical"]
    assert sorted(profiles[WELL]) == list(WELLS)
    assert widget.status.text().endswith("Well profiles: 3 wells.")
    controls = profiles[profiles["Metadata_control_type"] == "negcon"]
    features = [c for c in profiles.columns if not c.startswith("Metadata_")]
    assert len(controls) == 2 and features
    # robust z-scores against DMSO: the two control wells sit at -0.6745 and +0.6745 MAD
    assert np.allclose(np.abs(controls[features].to_numpy()), 0.6745, atol=1e-3)


def test_a_plate_without_negative_controls_says_so(dock, tmp_path, qtbot):
    viewer, widget = dock
    plate = write_cell_plate(tmp_path / "no_controls", wells=("A01", "A03"), sites=(1,))
    session = open_plate(viewer, plate)
    assert widget.run(scope="plate", features="classical", device="cpu")
    wait_done(qtbot, widget)
    text = widget.status.text()
    assert text.startswith(f"Profiled 2 of 2 field(s): {2 * CELLS_PER_FIELD} cells."), text
    # issue 10: without controls, wells are normalised to all wells of the plate, not dropped
    assert "Well profiles: 2 wells" in text, text
    assert "fewer than two negative-control wells" in text, text  # and the dock says why
    assert "normalised to all wells of each plate" in text, text
    assert len(session.well_profiles["classical"]) == 2
    assert len(session.cells) == 2 * CELLS_PER_FIELD
    assert widget.run_button.isEnabled()


def test_pipeline_output_loads_into_the_session(dock, cell_plate, qtbot):
    from napari_phenoscope.profiling.pipeline import profile_plates

    viewer, widget = dock
    outputs = profile_plates([cell_plate], cell_plate / "out", "classical", progress=False)
    session = open_plate(viewer, cell_plate)
    assert widget.load_output(cell_plate / "out")
    wait_done(qtbot, widget)
    assert len(session.cells) == outputs.n_cells == len(WELLS) * len(SITES) * CELLS_PER_FIELD
    assert session.feature_columns["classical"] == outputs.feature_columns["classical"]
    assert sorted(session.well_profiles["classical"][WELL]) == list(WELLS)
    assert session.cell_counts[("BR00116991", "B03")] == len(SITES) * CELLS_PER_FIELD
    assert widget.status.text().startswith(f"Loaded {outputs.n_cells} cells")


def test_loading_a_folder_without_profiles_is_a_message(dock, cell_plate, qtbot):
    viewer, widget = dock
    open_plate(viewer, cell_plate)
    assert widget.load_output(cell_plate)
    wait_done(qtbot, widget)
    assert widget.status.text().startswith("no single_cells.parquet in")

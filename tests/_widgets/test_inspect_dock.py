"""Inspect dock in a real napari viewer (run under xvfb-run), and its pure helpers."""

from __future__ import annotations

import numpy as np
import pytest
from test_profile_dock import SIZE, cell_centres, small_weights, wait_done, write_cell_plate

from napari_phenoscope._widgets._cells import select_cell_at
from napari_phenoscope._widgets._viewer import open_plate, show_field
from napari_phenoscope._widgets.inspect_dock import (
    INSPECT_LAYERS,
    LAYER_ATTENTION,
    LAYER_ERROR,
    LAYER_MASKED,
    LAYER_RECONSTRUCTION,
    LAYER_WINDOW,
    InspectDock,
)
from napari_phenoscope._widgets.profile_dock import ProfileDock
from napari_phenoscope.constants import CENTER_X, CENTER_Y
from napari_phenoscope.features.crops import DEFAULT_CROP_SIZE, crop_origins
from napari_phenoscope.session.inspect import (
    MASKED_RGB,
    ROLLOUT,
    channel_composite,
)

__all__ = ["small_weights"]  # a fixture shared with the profile dock tests


def test_composite_uses_the_viewer_channel_colours():
    stack = np.zeros((5, 3, 3))
    stack[0, 0, 0] = 1.0  # DNA: blue
    stack[3, 1, 1] = 1.0  # AGP: red
    stack[4, 2, 2] = 0.5  # Mito: magenta, half way up its range
    rgb = channel_composite(stack, np.tile([0.0, 1.0], (5, 1)))
    assert rgb[0, 0].tolist() == [0.0, 0.0, 1.0]
    assert rgb[1, 1].tolist() == [1.0, 0.0, 0.0]
    assert rgb[2, 2].tolist() == [0.5, 0.0, 0.5]
    assert rgb[0, 1].tolist() == [0.0, 0.0, 0.0]


pytestmark_gui = pytest.mark.gui


@pytest.fixture
def docks(make_napari_viewer):
    viewer = make_napari_viewer()
    profile, inspect = ProfileDock(viewer), InspectDock(viewer)
    viewer.window.add_dock_widget(profile)
    viewer.window.add_dock_widget(inspect)
    return viewer, profile, inspect


@pytest.fixture
def cell_plate(tmp_path):
    return write_cell_plate(tmp_path / "cells")


@pytestmark_gui
def test_run_without_a_plate_says_so(docks):
    _, _, inspect = docks
    assert inspect.run() is False
    assert inspect.status.text().startswith("No plate loaded")


@pytestmark_gui
def test_cell_mode_without_profiles_says_what_to_do(docks, cell_plate):
    viewer, _, inspect = docks
    open_plate(viewer, cell_plate)
    assert inspect.run(mode="cell") is False
    assert inspect.status.text().startswith("No cell selected: profile this field")
    assert not any(name in viewer.layers for name in INSPECT_LAYERS)


@pytest.fixture
def selected(docks, cell_plate, small_weights, qtbot):
    """A profiled field with its third cell selected, and the inspect dock on small weights."""
    viewer, profile, inspect = docks
    session = open_plate(viewer, cell_plate)
    profile.run(scope="field", features="classical", device="cpu")
    wait_done(qtbot, profile)
    cy, cx = cell_centres("A01", 1)[2]
    cell = select_cell_at(viewer, (cy, cx))
    assert cell is not None
    inspect.weights_edit.setText(str(small_weights))
    return viewer, inspect, session, cell


def hidden_patches(error: np.ndarray, patch: int = 8) -> np.ndarray:
    """Which patches of a crop-sized error map are non-zero (the MAE's hidden patches)."""
    size = error.shape[0] // patch
    return np.abs(error).reshape(size, patch, size, patch).max(axis=(1, 3)) > 0


@pytestmark_gui
def test_selected_cell_layers_are_aligned_on_its_crop(selected, qtbot):
    viewer, inspect, session, cell = selected
    assert "cell" in inspect.cell_label.text() and str(cell[3]) in inspect.cell_label.text()
    assert inspect.run(mode="cell", mask_ratio=0.5, seed=1, attention=ROLLOUT)
    wait_done(qtbot, inspect)
    row = session.cells[session.cells["label"] == cell[3]].iloc[0]
    origin = crop_origins(np.array([[row[CENTER_Y], row[CENTER_X]]]), DEFAULT_CROP_SIZE)[0]
    for name in INSPECT_LAYERS:
        layer = viewer.layers[name]
        assert layer.metadata["phenoscope"]["field_key"] == cell[:3]
        assert tuple(layer.translate) == tuple(float(v) for v in origin)
        assert layer.data.shape[:2] == (DEFAULT_CROP_SIZE, DEFAULT_CROP_SIZE)
    masked = viewer.layers[LAYER_MASKED].data
    reconstruction = viewer.layers[LAYER_RECONSTRUCTION].data
    error = viewer.layers[LAYER_ERROR].data
    hidden = np.kron(hidden_patches(error), np.ones((8, 8), bool))
    assert hidden.mean() == 0.5  # half of the 64 patches hidden
    assert np.array_equal(masked[~hidden], reconstruction[~hidden])  # visible: the input
    # hidden: grey in the masked input, told apart from the black background
    assert np.allclose(masked[hidden], MASKED_RGB)
    box = viewer.layers[LAYER_WINDOW].data[0]  # the crop's box, outlined on the field
    assert box.min(axis=0) == pytest.approx(origin)
    assert box.max(axis=0) == pytest.approx(origin + DEFAULT_CROP_SIZE)
    assert viewer.layers[LAYER_ATTENTION].colorbar.visible
    attention = viewer.layers[LAYER_ATTENTION].data
    assert attention.max() == pytest.approx(1.0) and attention.min() >= 0


@pytestmark_gui
def test_seed_fixes_the_mask_and_head_choice_changes_attention(selected, qtbot):
    viewer, inspect, _, _ = selected
    runs = {}
    layers_of_each_run = []
    for seed, attention in ((3, ROLLOUT), (3, 0), (4, ROLLOUT)):
        inspect.run(mode="cell", mask_ratio=0.75, seed=seed, attention=attention)
        wait_done(qtbot, inspect)
        runs[seed, attention] = (
            hidden_patches(viewer.layers[LAYER_ERROR].data),
            viewer.layers[LAYER_ATTENTION].data.copy(),
        )
        layers_of_each_run.append([viewer.layers[name] for name in INSPECT_LAYERS])
    # later runs refresh the layers in place (a new layer is a new GL visual: slow)
    first, *later = layers_of_each_run
    assert all(a is b for run in later for a, b in zip(first, run, strict=True))
    assert np.array_equal(runs[3, ROLLOUT][0], runs[3, 0][0])  # same seed, same mask
    assert not np.array_equal(runs[3, ROLLOUT][0], runs[4, ROLLOUT][0])
    assert runs[3, ROLLOUT][0].mean() == 0.75
    assert not np.allclose(runs[3, ROLLOUT][1], runs[3, 0][1])  # head 0 is not the rollout
    assert len([layer for layer in viewer.layers if layer.name == LAYER_ERROR]) == 1


@pytestmark_gui
def test_tiled_field_covers_the_field_and_leaves_with_it(selected, qtbot):
    viewer, inspect, session, _ = selected
    assert inspect.run(mode="field", seed=0)
    wait_done(qtbot, inspect)
    reconstruction = viewer.layers[LAYER_RECONSTRUCTION]
    assert reconstruction.data.shape == (SIZE, SIZE, 3)
    assert tuple(reconstruction.translate) == (0.0, 0.0)
    assert "field tiles: 9 window(s)" in inspect.status.text()  # 3 x 3 tiles of 64 px
    show_field(viewer, session, session.find("BR00116991", "A02", 1))
    assert not any(name in viewer.layers for name in INSPECT_LAYERS)


@pytestmark_gui
def test_missing_weights_is_a_one_line_message(selected, qtbot, tmp_path):
    viewer, inspect, _, _ = selected
    inspect.weights_edit.setText(str(tmp_path / "nowhere.safetensors"))
    assert inspect.run(mode="cell")
    wait_done(qtbot, inspect)
    text = inspect.status.text()
    assert "nowhere.safetensors" in text and "\n" not in text and "Traceback" not in text
    assert not any(name in viewer.layers for name in INSPECT_LAYERS)

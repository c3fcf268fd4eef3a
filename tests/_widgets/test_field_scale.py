"""Field layers in um where the pixel size is known: clicks, labels, selection, Inspect's box.

Every field layer shares the channel layers' scale and units, so napari's scale bar reads
um, and everything that maps world coordinates back to field pixels still lands on the
cell that was clicked.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from test_profile_dock import cell_centres, click, small_weights, wait_done, write_cell_plate

from napari_phenoscope._reader import read_plate
from napari_phenoscope._widgets._cells import (
    SELECTED_LAYER,
    centre_camera_on,
    highlight_cells,
    select_cell_at,
    show_field_labels,
)
from napari_phenoscope._widgets._viewer import (
    current_session,
    open_plate,
    scale_bar_of,
    show_field,
)
from napari_phenoscope._widgets._workers import LABELS_CELLS, LABELS_NUCLEI
from napari_phenoscope._widgets.inspect_dock import (
    INSPECT_LAYERS,
    LAYER_WINDOW,
    InspectDock,
)
from napari_phenoscope._widgets.profile_dock import ProfileDock
from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.session.inspect import ROLLOUT
from napari_phenoscope.session.state import state_of

__all__ = ["small_weights"]  # the profile dock tests' seeded weights

pytestmark = pytest.mark.gui

#: CPJUMP1's pixel size at 20x (um per pixel).
CPJUMP1_UM = 0.598


@pytest.fixture
def docks(make_napari_viewer):
    viewer = make_napari_viewer()
    profile, inspect = ProfileDock(viewer), InspectDock(viewer)
    viewer.window.add_dock_widget(profile)
    viewer.window.add_dock_widget(inspect)
    return viewer, profile, inspect


@pytest.fixture
def profiled_in_um(docks, tmp_path, qtbot):
    """A plate opened at 0.598 um/px, its first field segmented and measured."""
    viewer, profile, inspect = docks
    session = open_plate(viewer, write_cell_plate(tmp_path / "cells"), pixel_size=CPJUMP1_UM)
    profile.run(scope="field", features="classical", device="cpu")
    wait_done(qtbot, profile)
    return viewer, inspect, session


def world(pixel: tuple[float, float]) -> tuple[float, float]:
    return pixel[0] * CPJUMP1_UM, pixel[1] * CPJUMP1_UM


def test_channel_layers_are_in_um_and_the_scale_bar_says_so(profiled_in_um):
    viewer, _, _ = profiled_in_um
    for channel in CHANNELS:
        layer = viewer.layers[channel]
        assert tuple(layer.scale) == pytest.approx((CPJUMP1_UM, CPJUMP1_UM))
        assert [str(unit) for unit in layer.units] == ["micrometer", "micrometer"]
    for name in (LABELS_NUCLEI, LABELS_CELLS):  # overlays line up with the channels
        assert tuple(viewer.layers[name].scale) == pytest.approx((CPJUMP1_UM, CPJUMP1_UM))
    assert scale_bar_of(viewer).visible
    # napari's scale bar reads the layers' common unit: one layer in pixels would blank it
    assert [str(unit) for unit in viewer.layers.units] == ["micrometer", "micrometer"]
    height, width = viewer.layers["DNA"].data.shape
    extent = viewer.layers.extent.world
    assert extent[1] - extent[0] == pytest.approx(np.array([height - 1, width - 1]) * CPJUMP1_UM)


def test_a_click_at_a_world_position_selects_the_cell_under_it(profiled_in_um):
    viewer, _, session = profiled_in_um
    cells = viewer.layers[LABELS_CELLS].data
    for cy, cx in cell_centres("A01", 1):
        label = int(cells[cy, cx])
        assert select_cell_at(viewer, world((cy, cx))) == ("BR00116991", "A01", 1, label)
    # the pixel position read as a world position is elsewhere: the scale is really used
    far = cell_centres("A01", 1)[3]
    assert select_cell_at(viewer, far) != select_cell_at(viewer, world(far))
    selections = []
    state_of(viewer).events.selection_changed.connect(selections.append)
    cy, cx = cell_centres("A01", 1)[1]
    click(viewer, world((cy, cx)))  # napari's mouse events carry world positions
    assert selections == [[("BR00116991", "A01", 1, int(cells[cy, cx]))]]


def test_selected_cell_outline_lies_over_the_cell(profiled_in_um):
    viewer, _, session = profiled_in_um
    cy, cx = cell_centres("A01", 1)[0]
    label = int(viewer.layers[LABELS_CELLS].data[cy, cx])
    layer = highlight_cells(viewer, session, [label])
    assert layer is viewer.layers[SELECTED_LAYER]
    assert tuple(layer.scale) == pytest.approx((CPJUMP1_UM, CPJUMP1_UM))
    assert layer.get_value(world((cy, cx)), world=True) == label
    assert [str(unit) for unit in viewer.layers.units] == ["micrometer", "micrometer"]


def test_the_camera_centres_on_a_cell_given_in_pixels(profiled_in_um):
    viewer, _, _ = profiled_in_um
    cy, cx = cell_centres("A01", 1)[3]
    centre_camera_on(viewer, np.array([[cy, cx]]))
    camera = viewer.scene.camera
    assert tuple(camera.center)[-2:] == pytest.approx(world((cy, cx)))


def test_inspect_crop_and_its_box_sit_on_the_cell_in_um(profiled_in_um, small_weights, qtbot):
    viewer, inspect, session = profiled_in_um
    cy, cx = cell_centres("A01", 1)[2]
    assert select_cell_at(viewer, world((cy, cx))) is not None
    inspect.weights_edit.setText(str(small_weights))
    assert inspect.run(mode="cell", mask_ratio=0.5, seed=1, attention=ROLLOUT)
    wait_done(qtbot, inspect)
    y0, x0, y1, x1 = inspect.last.windows[0]
    assert y0 <= cy < y1 and x0 <= cx < x1  # the crop holds the clicked cell
    for name in INSPECT_LAYERS:
        layer = viewer.layers[name]
        corner = layer.data_to_world((0, 0))
        assert tuple(corner) == pytest.approx(world((y0, x0)))
    box = viewer.layers[LAYER_WINDOW]
    corners = np.array([box.data_to_world(p) for p in box.data[0]])
    assert corners.min(axis=0) == pytest.approx(world((y0, x0)))
    assert corners.max(axis=0) == pytest.approx(world((y1, x1)))
    assert [str(unit) for unit in viewer.layers.units] == ["micrometer", "micrometer"]


def test_unknown_pixel_size_stays_in_pixels_and_the_scale_bar_says_px(docks, tmp_path):
    viewer, _, _ = docks
    session = open_plate(viewer, write_cell_plate(tmp_path / "cells", wells=("A01",)))
    assert session.extras["pixel_size"] is None
    assert tuple(viewer.layers["DNA"].scale) == (1.0, 1.0)
    assert scale_bar_of(viewer).visible
    assert [str(unit) for unit in viewer.layers.units] == ["pixel", "pixel"]


def test_another_plate_with_another_pixel_size_rescales_the_layers(docks, tmp_path, qtbot):
    viewer, profile, _ = docks
    plate = write_cell_plate(tmp_path / "cells", wells=("A01",))
    open_plate(viewer, plate, pixel_size=CPJUMP1_UM)
    session = open_plate(viewer, plate, pixel_size=0.3)
    assert tuple(viewer.layers["DNA"].scale) == pytest.approx((0.3, 0.3))
    profile.run(scope="field", features="classical", device="cpu")
    wait_done(qtbot, profile)
    assert show_field_labels(viewer, session)
    assert tuple(viewer.layers[LABELS_CELLS].scale) == pytest.approx((0.3, 0.3))
    show_field(viewer, session, 1)  # navigation keeps the scale
    assert tuple(viewer.layers["DNA"].scale) == pytest.approx((0.3, 0.3))


def test_dropped_plate_with_a_pixel_size_in_its_tiffs_opens_in_um(make_napari_viewer, tmp_path):
    plate = write_cell_plate(tmp_path / "cells", wells=("A01",), sites=(1,))
    for path in (plate / "images").rglob("*.tiff"):  # as ImageJ writes a calibrated image
        pixels = tifffile.imread(path)
        tifffile.imwrite(
            path,
            pixels,
            imagej=True,
            resolution=(1 / CPJUMP1_UM, 1 / CPJUMP1_UM),
            metadata={"unit": "um"},
        )
    layers = read_plate(str(plate))
    for _, kwargs, _ in layers:
        assert kwargs["scale"] == pytest.approx((CPJUMP1_UM, CPJUMP1_UM))
        assert kwargs["units"] == "um"
    viewer = make_napari_viewer()
    for data, kwargs, _ in layers:
        viewer.add_image(data, **kwargs)
    session = current_session(viewer)  # a dock adopts the dropped plate
    assert session.extras["pixel_size"] == pytest.approx(CPJUMP1_UM)
    assert scale_bar_of(viewer).visible
    assert [str(unit) for unit in viewer.layers.units] == ["micrometer", "micrometer"]

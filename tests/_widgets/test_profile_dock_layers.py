"""The Profile dock on the viewer's own layers: another tool's Labels, cells edited by hand."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk
from skimage.measure import label as connected_components
from test_profile_dock import CELLS_PER_FIELD, wait_done, write_cell_plate

from napari_phenoscope._widgets._layer_inputs import SEGMENT
from napari_phenoscope._widgets._viewer import open_plate
from napari_phenoscope._widgets._workers import LABELS_CELLS
from napari_phenoscope._widgets.profile_dock import ProfileDock
from napari_phenoscope.constants import CHANNELS, SITE, WELL
from napari_phenoscope.session.state import LAYERS_PLATE, state_of

pytestmark = pytest.mark.gui

SIZE = 128
CENTRES = ((32, 32), (32, 96), (96, 32), (96, 96))


@pytest.fixture
def dock(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = ProfileDock(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, widget


def _another_readers_layers(viewer) -> None:
    """Five channel layers named as another reader names them, and cellpose-like masks:
    independent ids (not 1..n), nuclei numbered on their own."""
    rng = np.random.default_rng(0)
    names = {"DNA": "Hoechst DNA", "ER": "ER", "RNA": "rna", "AGP": "AGP", "Mito": "Mito"}
    masks = np.zeros((SIZE, SIZE), bool)
    nuclei = np.zeros((SIZE, SIZE), bool)
    planes = {c: rng.normal(300, 20, (SIZE, SIZE)) for c in CHANNELS}
    for centre in CENTRES:
        masks[disk(centre, 20, shape=masks.shape)] = True
        nuclei[disk(centre, 8, shape=masks.shape)] = True
        for channel in CHANNELS[1:]:
            planes[channel][disk(centre, 20, shape=masks.shape)] += 3000
        planes["DNA"][disk(centre, 8, shape=masks.shape)] += 9000
    for channel, plane in planes.items():
        viewer.add_image(plane.astype(np.uint16), name=names[channel])
    viewer.add_labels(connected_components(masks).astype(np.int32) * 7, name="cellpose masks")
    viewer.add_labels(connected_components(nuclei).astype(np.int32), name="cellpose nuclei")


def test_profiles_the_cells_of_another_tools_labels_layer(dock, qtbot):
    viewer, widget = dock
    _another_readers_layers(viewer)
    inputs = widget.inputs
    assert inputs.channel_pickers["DNA"].value is viewer.layers["Hoechst DNA"]
    assert inputs.channel_pickers["RNA"].value is viewer.layers["rna"]
    assert inputs.cells_picker.value is None  # segmenting is the default
    inputs.cells_picker.value = viewer.layers["cellpose masks"]
    inputs.nuclei_picker.value = viewer.layers["cellpose nuclei"]

    assert widget.run(features="classical", device="cpu"), widget.status.text()
    wait_done(qtbot, widget)
    session = state_of(viewer).session
    masks = viewer.layers["cellpose masks"]
    ids = sorted(int(i) for i in np.unique(masks.data) if i)
    assert ids == [7, 14, 21, 28]
    assert sorted(session.cells["label"]) == ids  # exactly the given cells, ids kept
    assert set(session.cells[WELL]) == {"Hoechst DNA"} and set(session.cells[SITE]) == {1}
    assert session.cells["Metadata_Plate"].eq(LAYERS_PLATE).all()
    nucleus_area = session.cells["Nuclei_AreaShape_Area"]
    assert (nucleus_area < session.cells["Cells_AreaShape_Area"] / 3).all()  # real nuclei
    # the user's own layer now carries the cells' table, keyed by its label ids
    assert sorted(masks.features["index"]) == ids
    assert widget.status.text().startswith("Profiled 1 of 1 field(s): 4 cells")


def test_erasing_a_cell_in_phenoscopes_cells_layer_changes_the_profile(dock, tmp_path, qtbot):
    viewer, widget = dock
    open_plate(viewer, write_cell_plate(tmp_path / "cells", wells=("A01",), sites=(1,)))
    assert widget.run(scope="field", features="classical", device="cpu")
    wait_done(qtbot, widget)
    session = state_of(viewer).session
    before = session.cells.set_index("label")
    assert len(before) == CELLS_PER_FIELD

    cells_layer = viewer.layers[LABELS_CELLS]
    erased = int(before.index[0])
    painted = cells_layer.data.copy()
    painted[painted == erased] = 0  # what the eraser leaves
    grown = int(before.index[1])
    painted[np.roll(painted == grown, 3, axis=1)] = grown  # and a cell painted wider
    cells_layer.data = painted
    widget.inputs.cells_picker.value = cells_layer
    assert widget.inputs.cells_picker.value is not None
    assert widget.run(features="classical", device="cpu"), widget.status.text()
    wait_done(qtbot, widget)
    after = session.cells.set_index("label")
    assert erased not in after.index and len(after) == CELLS_PER_FIELD - 1
    area = "Cells_AreaShape_Area"
    assert after.loc[grown, area] > before.loc[grown, area]
    kept = [label for label in after.index if label != grown]
    assert np.allclose(after.loc[kept, area], before.loc[kept, area])
    widget.inputs.cells_picker.value = None
    assert widget.inputs.cells_picker.native.currentText() == SEGMENT


def test_labels_of_another_shape_are_one_line(dock, qtbot):
    viewer, widget = dock
    _another_readers_layers(viewer)
    viewer.add_labels(np.ones((SIZE, SIZE + 5), np.int32), name="wrong")
    widget.inputs.cells_picker.value = viewer.layers["wrong"]
    assert widget.run(features="classical", device="cpu")
    wait_done(qtbot, widget)
    text = widget.status.text()
    assert "'wrong'" in text or "wrong" in text
    assert "shape" in text and "\n" not in text


def test_opening_the_dock_from_plugins_freezes_no_objects(make_napari_viewer):
    """gc.freeze is for Phenoscope's own processes (demo, view, tour), not for a dock opened
    in someone else's napari."""
    import gc

    from napari_phenoscope._widgets.docks import add_plugin_dock

    viewer = make_napari_viewer()
    frozen = gc.get_freeze_count()
    add_plugin_dock(viewer, "Profile")
    assert gc.get_freeze_count() == frozen
    assert gc.isenabled()


def test_scope_is_off_while_cells_come_from_a_labels_layer(dock):
    viewer, widget = dock
    viewer.add_labels(np.zeros((8, 8), np.int32), name="masks")
    assert widget.scope_combo.isEnabled()
    widget.inputs.cells_picker.value = viewer.layers["masks"]
    assert not widget.scope_combo.isEnabled()
    widget.inputs.cells_picker.value = None
    assert widget.scope_combo.isEnabled()

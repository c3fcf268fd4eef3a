"""napari's Layers menu: the Phenoscope commands profile the selected layer in the dock."""

from __future__ import annotations

import numpy as np
import pytest
from test_profile_dock_layers import _another_readers_layers

from napari_phenoscope._widgets.docks import PLUGIN
from napari_phenoscope._widgets.layer_actions import profile_cells_of_labels_layer
from napari_phenoscope.session.state import state_of

pytestmark = pytest.mark.gui


def test_layers_menu_lists_the_commands_for_the_right_layer_type(make_napari_viewer):
    from napari._app_model import get_app_model

    make_napari_viewer()
    app = get_app_model()
    measure = [
        item.command.id
        for item in app.menus.get_menu("napari/layers/measure")
        if hasattr(item, "command")
    ]
    segment = [
        item.command.id
        for item in app.menus.get_menu("napari/layers/segment")
        if hasattr(item, "command")
    ]
    assert f"{PLUGIN}.profile_labels_layer" in measure
    assert f"{PLUGIN}.segment_and_profile" in segment


def test_profile_these_cells_profiles_the_selected_labels_layer(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    _another_readers_layers(viewer)
    masks = viewer.layers["cellpose masks"]
    viewer.layers.selection.active = masks
    assert profile_cells_of_labels_layer(viewer)
    dock = viewer.window.dock_widgets[f"Profile ({PLUGIN})"]
    qtbot.waitUntil(lambda: not dock.running, timeout=120_000)
    cells = state_of(viewer).session.cells
    assert sorted(cells["label"]) == sorted(int(i) for i in np.unique(masks.data) if i)

    viewer.layers.selection.active = viewer.layers["Hoechst DNA"]
    assert not profile_cells_of_labels_layer(viewer)
    assert "Labels layer" in dock.status.text()

"""Every dock through napari's plugin API: the demo's docks and *Plugins* share one each."""

from __future__ import annotations

import pytest
from npe2 import PluginManifest

from conftest import REPO
from napari_phenoscope._widgets.docks import PLUGIN, PLUGIN_WIDGETS, add_all_docks

pytestmark = pytest.mark.gui


def test_plugins_menu_after_the_demo_docks_leaves_one_dock_of_each_kind(make_napari_viewer):
    viewer = make_napari_viewer()
    docks = add_all_docks(viewer)  # what `phenoscope demo`, `view` and the tour call
    manifest = PluginManifest.from_file(REPO / "napari.yaml")
    contributed = [widget.display_name for widget in manifest.contributions.widgets]
    assert sorted(contributed) == sorted(PLUGIN_WIDGETS.values())
    opened = dict(viewer.window.dock_widgets)
    assert len(opened) == len(contributed)
    for name in contributed:  # what Plugins > Phenoscope > <name> calls
        _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
        assert widget is opened[f"{name} ({PLUGIN})"]
    assert len(viewer.window.dock_widgets) == len(contributed)
    assert docks.profile is opened[f"Profile ({PLUGIN})"]
    # a second call of add_all_docks (a tour on the same viewer) opens nothing new
    again = add_all_docks(viewer)
    assert again.navigator is docks.navigator
    assert len(viewer.window.dock_widgets) == len(contributed)

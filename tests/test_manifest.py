"""The npe2 manifest: valid, found through the installed distribution, every command importable."""

from __future__ import annotations

import importlib

from npe2 import PluginManifest

from conftest import REPO


def test_installed_manifest_is_the_top_level_napari_yaml():
    manifest = PluginManifest.from_distribution("napari-phenoscope")
    assert manifest.name == "napari-phenoscope"
    top_level = PluginManifest.from_file(REPO / "napari.yaml")
    assert manifest.model_dump() == top_level.model_dump()


def test_every_command_resolves_to_a_callable():
    manifest = PluginManifest.from_file(REPO / "napari.yaml")
    assert manifest.contributions.commands
    for command in manifest.contributions.commands:
        module_name, _, attribute = command.python_name.partition(":")
        assert callable(getattr(importlib.import_module(module_name), attribute)), command.id


def test_readers_and_widgets_are_contributed():
    contributions = PluginManifest.from_file(REPO / "napari.yaml").contributions
    assert contributions.readers and contributions.readers[0].accepts_directories
    names = {widget.display_name for widget in contributions.widgets}
    assert "Plate navigator" in names

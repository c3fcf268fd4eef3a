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


def test_manifest_validates_with_npe2_and_its_menus_are_napari_layer_menus():
    """What ``npe2 validate napari.yaml`` checks, and menus napari lets plugins fill."""
    from napari._app_model.constants import MenuId

    manifest = PluginManifest.from_file(REPO / "napari.yaml")
    manifest.validate_imports()  # every python_name imports and resolves
    contributable = {menu.value for menu in MenuId.contributables()}
    menus = manifest.contributions.menus
    assert menus and set(menus) <= contributable
    assert all(menu.startswith("napari/layers/") for menu in menus)
    commands = {command.id for command in manifest.contributions.commands}
    assert {item.command for items in menus.values() for item in items} <= commands

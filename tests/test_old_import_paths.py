"""The import paths README.md and docs/ documented before the restructure still work."""

from __future__ import annotations

import importlib

import pytest

from napari_phenoscope import MOVED_MODULES

#: old module -> (new home, names the docs used)
OLD_PATHS = {
    "napari_phenoscope.metrics": (
        "napari_phenoscope.evaluation.map",
        ("average_precision", "mean_average_precision", "rank_by_similarity"),
    ),
    "napari_phenoscope.tasks": ("napari_phenoscope.evaluation.tasks", ("evaluate",)),
    "napari_phenoscope.profiles": (
        "napari_phenoscope.profiling.profiles",
        ("aggregate", "normalize", "feature_select", "spherize"),
    ),
    "napari_phenoscope.pipeline": ("napari_phenoscope.profiling.pipeline", ("profile_plates",)),
    "napari_phenoscope.segment": (
        "napari_phenoscope.segmentation",
        ("segment_field", "match_labels"),
    ),
    "napari_phenoscope.demo": (
        "napari_phenoscope.demo.project",
        ("ensure_demo_plates", "demo_well_field", "write_demo_plates"),
    ),
}


@pytest.mark.parametrize("old", sorted(OLD_PATHS))
def test_old_path_gives_the_same_objects_as_the_new_home(old):
    new, names = OLD_PATHS[old]
    old_module, new_module = importlib.import_module(old), importlib.import_module(new)
    for name in names:
        assert getattr(old_module, name) is getattr(new_module, name), name


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_an_old_module_is_the_module_it_moved_to_not_a_copy(old, monkeypatch):
    old_module = importlib.import_module(f"napari_phenoscope.{old}")
    new_module = importlib.import_module(f"napari_phenoscope.{MOVED_MODULES[old]}")
    assert old_module is new_module
    assert new_module.__spec__.name == new_module.__name__  # its own spec, not the alias's
    monkeypatch.setattr(old_module, "PATCHED_BY_THE_TEST", True, raising=False)
    assert new_module.PATCHED_BY_THE_TEST


def test_an_unknown_module_is_still_an_import_error():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("napari_phenoscope.no_such_module")

"""The import paths README.md and docs/ documented before a move still work.

The flat modules of the first restructure (``metrics``, ``tasks``, ...) and the modules that
left ``profiling/`` when it was split by concern (``profiling.similarity`` ...).
"""

from __future__ import annotations

import importlib

import pytest

from napari_phenoscope import MOVED_MODULES

#: old module -> (new home, names the docs used)
OLD_PATHS = {
    "napari_phenoscope.metrics": (
        "napari_phenoscope.evaluation.precision",
        ("average_precision", "mean_average_precision", "rank_by_similarity"),
    ),
    "napari_phenoscope.tasks": ("napari_phenoscope.evaluation.tasks", ("evaluate",)),
    "napari_phenoscope.profiles": (
        "napari_phenoscope.profiling.processing",
        ("aggregate", "normalize", "feature_select", "spherize"),
    ),
    "napari_phenoscope.pipeline": ("napari_phenoscope.profiling.pipeline", ("profile_plates",)),
    "napari_phenoscope.segment": (
        "napari_phenoscope.segmentation",
        ("segment_field", "match_labels"),
    ),
    "napari_phenoscope.evaluation.map": (
        "napari_phenoscope.evaluation.precision",
        ("average_precision", "mean_average_precision"),
    ),
    "napari_phenoscope.profiling.similarity": (
        "napari_phenoscope.similarity.rank",
        ("rank_perturbations", "reference_profiles", "cell_query", "perturbation_query"),
    ),
    "napari_phenoscope.profiling.attribution": (
        "napari_phenoscope.similarity.attribution",
        ("feature_contributions", "group_contributions"),
    ),
    "napari_phenoscope.profiling.explain": (
        "napari_phenoscope.similarity.explain",
        ("explain_match", "MatchExplanation"),
    ),
    "napari_phenoscope.profiling.explain_cells": (
        "napari_phenoscope.similarity.explain_cells",
        ("channel_occlusion", "representative_rows"),
    ),
    "napari_phenoscope.profiling.comparison": (
        "napari_phenoscope.similarity.comparison",
        ("compare", "Comparison", "comparison_tables"),
    ),
    "napari_phenoscope.profiling.comparison_figure": (
        "napari_phenoscope.similarity.comparison_figure",
        ("comparison_figure", "write_comparison"),
    ),
    "napari_phenoscope.profiling.feature_words": (
        "napari_phenoscope.similarity.feature_words",
        ("feature_words", "group_words"),
    ),
    "napari_phenoscope.profiling.embedding_map": (
        "napari_phenoscope.profile_map.layout",
        ("UmapParams", "compute_umap", "cached_umap"),
    ),
    "napari_phenoscope.profiling.map_points": (
        "napari_phenoscope.profile_map.points",
        ("PointLocator", "rasterise"),
    ),
    "napari_phenoscope.profiling.annotations": (
        "napari_phenoscope.io.annotations",
        ("Annotations", "find_annotations"),
    ),
    "napari_phenoscope.profiling.profiles": (
        "napari_phenoscope.profiling.processing",
        ("aggregate", "normalize", "feature_select", "spherize"),
    ),
    "napari_phenoscope.io.outputs": ("napari_phenoscope.io.output_folder", ("output_folder",)),
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


def test_every_moved_module_has_its_documented_names_checked():
    assert {f"napari_phenoscope.{old}" for old in MOVED_MODULES} <= set(OLD_PATHS)


def test_from_an_old_package_import_an_old_module():
    # the form docs and notebooks use: the package profiling/ is still there, the module not
    from napari_phenoscope.profiling import similarity
    from napari_phenoscope.similarity import rank

    assert similarity is rank


@pytest.mark.parametrize(
    "unknown", ["napari_phenoscope.no_such_module", "napari_phenoscope.profiling.no_such_module"]
)
def test_an_unknown_module_is_still_an_import_error(unknown):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(unknown)

"""The registry of bundled weights (models/registry.py): names -> files shipped in the package."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_phenoscope.errors import ModelWeightsError
from napari_phenoscope.models import load_encoder, registry, weights
from napari_phenoscope.models.registry import (
    BUNDLED_MODELS,
    BUNDLED_WEIGHTS,
    DEFAULT_MODEL,
    bundled_weights_path,
    resolve_weights,
)


def test_bundled_weights_are_found_by_name():
    assert (
        resolve_weights(None) == resolve_weights("bundled") == bundled_weights_path(DEFAULT_MODEL)
    )
    assert resolve_weights().name == BUNDLED_WEIGHTS
    for name in BUNDLED_MODELS:
        assert resolve_weights(name) == bundled_weights_path(name)
        assert load_encoder(name).phenoscope_preprocessing.crop_size == 64
    with pytest.raises(ModelWeightsError, match="no bundled weights named 'nope'"):
        bundled_weights_path("nope")


def test_a_path_that_is_no_registry_name_is_taken_as_a_path(tmp_path):
    mine = tmp_path / "mine.safetensors"
    assert resolve_weights(mine) == mine
    assert resolve_weights(str(mine)) == Path(mine)


def test_the_registry_names_stay_importable_from_models_weights():
    for name in ("BUNDLED_MODELS", "BUNDLED_WEIGHTS", "DEFAULT_MODEL", "bundled_weights_path",
                 "resolve_weights"):  # fmt: skip
        assert getattr(weights, name) is getattr(registry, name)

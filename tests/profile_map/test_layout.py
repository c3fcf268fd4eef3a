"""Profile map layout: a seeded, cached, cancellable UMAP; samples of large tables."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.profile_map.layout import (
    EmbeddingCache,
    MapCancelled,
    UmapParams,
    cached_umap,
    compute_umap,
    subsample,
)


def two_blobs(n: int = 60, dims: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centre = np.full(dims, 4.0)  # apart in every feature: standardization keeps them apart
    features = np.vstack([rng.normal(size=(n, dims)), rng.normal(size=(n, dims)) + centre])
    return features.astype(np.float32), np.repeat([0, 1], n)


@pytest.fixture(scope="module")
def blobs_map():
    features, group = two_blobs()
    return features, group, compute_umap(features, UmapParams(metric="euclidean"))


def test_umap_is_reproducible_and_keeps_clusters_apart(blobs_map):
    features, group, embedding = blobs_map
    assert embedding.shape == (len(features), 2) and embedding.dtype == np.float32
    again = compute_umap(features, UmapParams(metric="euclidean"))
    np.testing.assert_array_equal(embedding, again)  # fixed seed: same map every run
    # oracle: the 2-D nearest neighbour of every point is in its own blob
    distances = np.linalg.norm(embedding[:, None] - embedding[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    assert (group[distances.argmin(axis=1)] == group).all()


def test_cache_answers_repeated_maps_and_recomputes_changed_data():
    features, _ = two_blobs(n=20)
    cache = EmbeddingCache(max_entries=2)
    messages: list[tuple[str, float]] = []

    def report(message: str, fraction: float) -> None:
        messages.append((message, fraction))

    first = cached_umap(cache, features, "vit", "cells", progress=report)
    assert len(cache) == 1
    fractions = [fraction for _, fraction in messages]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert any("epoch" in message for message, _ in messages)
    messages.clear()
    assert cached_umap(cache, features, "vit", "cells", progress=report) is first
    assert messages == []  # nothing was recomputed
    changed = features.copy()
    changed[0, 0] += 1.0
    second = cached_umap(cache, changed, "vit", "cells")
    assert second is not first and len(cache) == 2
    cached_umap(cache, features, "classical", "cells")  # another feature set: a third map
    assert len(cache) == 2  # the least recently used map was dropped


def test_too_few_rows_are_a_clear_error():
    with pytest.raises(ProfileTableError, match="at least 4 profiles"):
        compute_umap(np.zeros((3, 5), np.float32))


@pytest.mark.slow  # UMAP's transform is compiled by numba on first use
def test_large_tables_fit_a_sample_and_place_the_rest_among_neighbours():
    features, group = two_blobs(n=150)
    messages: list[tuple[str, float]] = []
    params = UmapParams(metric="euclidean", fit_rows=120)
    embedding = compute_umap(features, params, progress=lambda m, f: messages.append((m, f)))
    assert embedding.shape == (300, 2) and np.isfinite(embedding).all()
    np.testing.assert_array_equal(embedding, compute_umap(features, params))  # seeded
    # oracle: every point, fitted or placed, lies nearest to points of its own blob
    distances = np.linalg.norm(embedding[:, None] - embedding[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    assert (group[distances.argmin(axis=1)] == group).mean() > 0.98
    fractions = [fraction for _, fraction in messages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("placing points" in message for message, _ in messages)


def test_cancel_stops_before_the_next_stage():
    features, _ = two_blobs(n=40)
    cancel = threading.Event()
    messages: list[str] = []

    def report(message: str, fraction: float) -> None:
        messages.append(message)
        cancel.set()  # as if the user pressed Cancel during the PCA

    with pytest.raises(MapCancelled):
        compute_umap(features, progress=report, cancel=cancel)
    assert len(messages) == 1 and messages[0].startswith("PCA")  # the layout never started
    with pytest.raises(MapCancelled):  # already cancelled: nothing starts
        compute_umap(features, cancel=cancel)


def test_subsample_is_seeded_and_sorted():
    chosen = subsample(1000, 100, seed=3)
    assert len(chosen) == 100 and len(set(chosen)) == 100
    assert (np.diff(chosen) > 0).all()
    np.testing.assert_array_equal(chosen, subsample(1000, 100, seed=3))
    np.testing.assert_array_equal(subsample(10, 100), np.arange(10))

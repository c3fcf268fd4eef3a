"""Profile map model: seeded cached UMAP, point <-> cell keys, click and lasso hit tests."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from napari_phenoscope.constants import PLATE, SITE, WELL
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.plate_layout import category_color
from napari_phenoscope.profile_map.layout import (
    EmbeddingCache,
    MapCancelled,
    PointIndex,
    UmapParams,
    cached_umap,
    compute_umap,
    nearest_point,
    point_colours,
    point_keys,
    points_in_polygon,
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


def test_point_keys_link_cells_and_wells():
    cells = pd.DataFrame(
        {
            PLATE: ["P1", "P1", "P2"],
            WELL: ["A01", "A01", "B02"],
            SITE: [1, 2, 1],
            "label": [5, 5, 7],
        }
    )
    keys = point_keys(cells, "cells")
    assert keys == [("P1", "A01", 1, 5), ("P1", "A01", 2, 5), ("P2", "B02", 1, 7)]
    index = PointIndex(keys)
    assert index.indices([("P2", "B02", 1, 7), ("P9", "A01", 1, 1)]).tolist() == [2]
    assert index.well_indices([("P1", "A01")]).tolist() == [0, 1]
    assert index.keys_at([1]) == [("P1", "A01", 2, 5)]
    wells = point_keys(cells.drop_duplicates([PLATE, WELL]), "wells")
    assert wells == [("P1", "A01"), ("P2", "B02")]
    # a selected cell highlights its well on a map of wells
    assert PointIndex(wells).indices([("P2", "B02", 1, 7)]).tolist() == [1]
    with pytest.raises(ProfileTableError, match="no column label"):
        point_keys(cells.drop(columns="label"), "cells")


def test_point_index_from_a_table_equals_the_index_of_its_keys():
    rng = np.random.default_rng(2)
    cells = pd.DataFrame(
        {
            PLATE: rng.choice(["P1", "P2", "P10"], 500),
            WELL: rng.choice(["A01", "B02", "P24"], 500),
            SITE: rng.integers(0, 4, 500),
            "label": rng.integers(1, 3000, 500),
        }
    )
    keys = point_keys(cells, "cells")
    index, reference = PointIndex.from_table(cells, "cells"), PointIndex(keys)
    assert index.keys == keys and len(index) == 500
    wanted = [keys[7], keys[400], ("P1", "A01", 9, 1), ("P3", "A01", 1, 1), ("P1", "A01", 1, -4)]
    expected = sorted({i for i, key in enumerate(keys) if key in set(wanted)})  # duplicates too
    assert index.indices(wanted).tolist() == expected == reference.indices(wanted).tolist()
    in_well = [i for i, key in enumerate(keys) if key[:2] == ("P10", "B02")]
    assert index.well_indices([("P10", "B02"), ("P9", "A01")]).tolist() == in_well
    assert index.keys_at([3, 1]) == [keys[3], keys[1]]
    assert index.indices([]).size == 0 and index.well_indices([]).size == 0


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


def test_nearest_point_respects_the_click_tolerance():
    points = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]])
    assert nearest_point(points, (9.0, 1.0), max_distance=3) == 1
    assert nearest_point(points, (5.0, 5.0), max_distance=3) is None
    assert nearest_point(np.zeros((0, 2)), (0.0, 0.0), max_distance=3) is None


def test_lasso_selects_the_points_inside_the_polygon():
    rng = np.random.default_rng(3)
    points = rng.uniform(-1, 1, size=(500, 2))
    square = [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)]
    inside = points_in_polygon(points, square)
    expected = np.nonzero((np.abs(points) < 0.5).all(axis=1))[0]
    np.testing.assert_array_equal(inside, expected)
    assert points_in_polygon(points, square[:2]).size == 0  # not a polygon yet


def test_point_colours_match_the_plate_grid_and_scale_numbers():
    colours = point_colours(pd.Series(["compound", "crispr", "compound"]))
    assert tuple(colours.rgba[0]) == category_color("compound")
    assert tuple(colours.rgba[0]) == tuple(colours.rgba[2])
    assert [name for name, _ in colours.legend] == ["compound", "crispr"]
    numbers = point_colours(pd.Series([0.0, 5.0, 10.0, np.nan]))
    assert numbers.numeric and numbers.legend[0][0] == "0" and numbers.legend[1][0] == "10"
    assert tuple(numbers.rgba[3]) == (0.55, 0.55, 0.55, 1.0)


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

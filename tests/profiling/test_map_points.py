"""Rasterized map points and the point locator against brute-force oracles."""

from __future__ import annotations

import numpy as np
import pytest

from napari_phenoscope.profiling.embedding_map import nearest_point, points_in_polygon
from napari_phenoscope.profiling.map_points import PointLocator, rasterize, spread_for


@pytest.fixture(scope="module")
def cloud():
    rng = np.random.default_rng(4)
    return rng.normal(size=(20_000, 2)), rng.uniform(size=(20_000, 3))


def test_rasterize_draws_every_visible_point_in_its_pixel_with_the_mean_colour(cloud):
    points, rgb = cloud
    extent, shape = (-1.0, 1.0, -0.5, 1.5), (40, 60)
    image = rasterize(points, rgb, extent, shape)
    # oracle: loop over the points
    sums, counts = np.zeros((40, 60, 3)), np.zeros((40, 60))
    for (x, y), colour in zip(points, rgb, strict=True):
        col = int(np.floor((x + 1.0) * 60 / 2.0))
        row = int(np.floor((y + 0.5) * 40 / 2.0))
        if 0 <= col < 60 and 0 <= row < 40:
            sums[row, col] += colour
            counts[row, col] += 1
    drawn = counts > 0
    assert drawn.sum() > 1000
    np.testing.assert_array_equal(image[..., 3], np.where(drawn, 255, 0))
    expected = np.round(255 * sums[drawn] / counts[drawn, None])
    np.testing.assert_array_equal(image[drawn][:, :3], expected)
    assert not image[~drawn].any()  # transparent where there is no point


def test_spread_grows_sparse_points_into_squares():
    image = rasterize(np.array([[0.5, 0.5]]), np.array([[0.0, 1.0, 0.0]]), (0, 1, 0, 1), (9, 9), 3)
    assert (image[..., 3] > 0).sum() == 9 and image[3:6, 3:6, 1].min() == 255
    assert spread_for(10, (400, 400)) == 4
    assert spread_for(1_000_000, (400, 400)) == 1


def test_locator_box_nearest_and_polygon_equal_brute_force(cloud):
    points, _ = cloud
    locator = PointLocator(points)
    box = locator.in_box(-0.3, 0.2, 0.1, 0.9)
    expected = np.flatnonzero(
        (points[:, 0] >= -0.3)
        & (points[:, 0] <= 0.2)
        & (points[:, 1] >= 0.1)
        & (points[:, 1] <= 0.9)
    )
    np.testing.assert_array_equal(np.sort(box), expected)

    # "display" pixels: an anisotropic scale and shift, as matplotlib's transData
    scale, shift = np.array([300.0, 120.0]), np.array([40.0, 25.0])
    to_display = lambda xy: xy * scale + shift  # noqa: E731
    to_data = lambda xy: (xy - shift) / scale  # noqa: E731
    pixels = to_display(points)
    for target in [(40.0, 25.0), (100.5, 130.2), (-400.0, 0.0), (412.0, 87.0)]:
        assert locator.nearest(target, to_display, to_data, 6.0) == nearest_point(
            pixels, target, 6.0
        )
    star = [(-1, -1), (0.2, -0.4), (1.2, -1.1), (0.5, 0.3), (1.0, 1.4), (-0.2, 0.6), (-1.3, 1)]
    np.testing.assert_array_equal(locator.in_polygon(star), points_in_polygon(points, star))
    assert locator.in_polygon(star[:2]).size == 0

"""Rasterized map points and the point locator against brute-force oracles."""

from __future__ import annotations

import numpy as np
import pytest

from napari_phenoscope.profile_map.points import (
    PointLocator,
    footprint,
    nearest_point,
    points_in_polygon,
    rasterise,
    spread_for,
)


@pytest.fixture(scope="module")
def cloud():
    rng = np.random.default_rng(4)
    return rng.normal(size=(20_000, 2)), rng.uniform(size=(20_000, 3))


def test_rasterize_draws_every_visible_point_in_its_pixel_with_the_mean_colour(cloud):
    points, rgb = cloud
    extent, shape = (-1.0, 1.0, -0.5, 1.5), (40, 60)
    image = rasterise(points, rgb, extent, shape)
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


def test_footprint_is_where_rasterize_draws(cloud):
    points, rgb = cloud
    for spread in (1, 3):
        image = rasterise(points[:500], rgb[:500], (-1.0, 1.0, -0.5, 1.5), (40, 60), spread)
        covered = footprint(points[:500], (-1.0, 1.0, -0.5, 1.5), (40, 60), spread)
        np.testing.assert_array_equal(covered, image[..., 3] > 0)
        assert covered.any() and not covered.all()


def test_spread_grows_sparse_points_into_squares():
    image = rasterise(np.array([[0.5, 0.5]]), np.array([[0.0, 1.0, 0.0]]), (0, 1, 0, 1), (9, 9), 3)
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


def lasso_shapes(rng, centre, radius):
    """Lassos as drawn by hand: a wobbly loop, a star, one crossing itself, a thin notch."""
    angles = np.linspace(0, 2 * np.pi, 300, endpoint=False)
    wobble = radius * (1 + 0.3 * np.sin(7 * angles) + 0.05 * rng.normal(size=300))
    loop = centre + np.c_[np.cos(angles), np.sin(angles)] * wobble[:, None]
    star_angles = np.linspace(0, 2 * np.pi, 14, endpoint=False)
    star_radii = np.where(np.arange(14) % 2 == 0, radius, radius / 3)
    star = centre + np.c_[np.cos(star_angles), np.sin(star_angles)] * star_radii[:, None]
    figure_eight = centre + radius * np.c_[np.sin(2 * angles), np.sin(angles)]
    # a notch of the outside reaching through the middle, its tip beyond the far side
    x0, y0 = centre - radius
    x1, y1 = centre + radius
    gap = radius / 50
    notch = [(x0, y0), (x1, y0), (x1, y1), (centre[0] + gap, y1), (centre[0] + gap, y0 - radius)]
    notch += [(centre[0] - gap, y0 - radius), (centre[0] - gap, y1), (x0, y1)]
    return [loop, star, figure_eight, np.asarray(notch)]


@pytest.mark.parametrize("layout", ["clusters", "grid-aligned", "one-spot"])
def test_grid_locator_equals_brute_force_on_random_maps(layout):
    rng = np.random.default_rng(11)
    if layout == "clusters":  # UMAP-like: dense blobs, empty space between
        centres = rng.normal(scale=6, size=(40, 2))
        points = centres[rng.integers(0, 40, 30_000)] + rng.normal(scale=0.5, size=(30_000, 2))
    elif layout == "grid-aligned":  # points on cell boundaries, duplicates
        points = rng.integers(0, 30, size=(20_000, 2)).astype(np.float64)
    else:  # every point at the same place: a zero-width grid
        points = np.full((50, 2), 3.0)
    points = points.astype(np.float32)
    locator = PointLocator(points)
    low, high = points.min(axis=0).astype(float), points.max(axis=0).astype(float)
    centre, radius = (low + high) / 2, max(float((high - low).max()) / 4, 1.0)
    for vertices in lasso_shapes(rng, centre, radius):
        expected = points_in_polygon(points, vertices)
        np.testing.assert_array_equal(locator.in_polygon(vertices), expected)
    beyond = [(-1e3, -1e3), (1e3, -1e3), (0.0, 1e3)]  # a lasso around the whole map
    np.testing.assert_array_equal(locator.in_polygon(beyond), points_in_polygon(points, beyond))
    for _ in range(20):
        x0, y0 = rng.uniform(low - 2, high + 2)
        x1, y1 = x0 + rng.exponential(radius), y0 + rng.exponential(radius)
        inside = (points[:, 0] >= x0) & (points[:, 0] <= x1)
        inside &= (points[:, 1] >= y0) & (points[:, 1] <= y1)
        np.testing.assert_array_equal(
            np.sort(locator.in_box(x0, x1, y0, y1)), np.flatnonzero(inside)
        )
    assert locator.in_box(1.0, 0.0, 0.0, 1.0).size == 0  # an empty (inverted) box
    to_display = lambda xy: np.asarray(xy, dtype=float) * 25.0  # noqa: E731
    to_data = lambda xy: np.asarray(xy, dtype=float) / 25.0  # noqa: E731
    pixels = to_display(points)
    for target in rng.uniform(low * 25 - 20, high * 25 + 20, size=(40, 2)):
        assert locator.nearest(target, to_display, to_data, 6.0) == nearest_point(
            pixels, target, 6.0
        )
    assert locator.nearest(pixels[7], to_display, to_data, 6.0) == nearest_point(
        pixels, pixels[7], 6.0
    )


def test_an_empty_map_finds_nothing():
    locator = PointLocator(np.zeros((0, 2)))
    assert locator.in_box(0, 1, 0, 1).size == 0
    assert locator.in_polygon([(0, 0), (1, 0), (0, 1)]).size == 0
    assert locator.nearest((0.0, 0.0), lambda xy: xy, lambda xy: xy, 6.0) is None


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

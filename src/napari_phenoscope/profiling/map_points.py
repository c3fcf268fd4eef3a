"""Drawing and picking a million map points without a GPU: rasterizing and a point locator.

No Qt here. A scatter of a million markers takes seconds to draw, so large maps are drawn
as an image: every point falls in one pixel of the visible window and each pixel shows the
mean colour of its points (as datashader does), recomputed for each pan or zoom in tens of
milliseconds. Clicks and lassos look only at the points inside a small box, found by binary
search on the points sorted by x, instead of transforming every point to pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.path import Path as PolygonPath

from napari_phenoscope.profiling.embedding_map import nearest_point

Extent = tuple[float, float, float, float]  # x0, x1, y0, y1 (data units)


def rasterize(
    points: np.ndarray,
    rgb: np.ndarray,
    extent: Extent,
    shape: tuple[int, int],
    spread: int = 1,
) -> np.ndarray:
    """Draw every point of ``extent`` into an RGBA image of ``shape`` (height, width).

    Parameters
    ----------
    points
        (n, 2) data coordinates.
    rgb
        (n, 3) colours in 0..1.
    extent
        The visible window (x0, x1, y0, y1); points outside it are left out.
    shape
        Image size in pixels (rows, columns); row 0 is the bottom (``origin="lower"``).
    spread
        Side in pixels of the square each point covers (1 for dense maps, more for sparse
        ones so that isolated points stay visible).

    Returns
    -------
    numpy.ndarray
        (height, width, 4) uint8: the mean colour of the points of each pixel, opaque where
        there is at least one point, transparent elsewhere.

    Examples
    --------
    >>> image = rasterize(np.array([[0.5, 0.5]]), np.array([[1.0, 0, 0]]), (0, 1, 0, 1), (4, 4))
    >>> image[2, 2].tolist()
    [255, 0, 0, 255]
    """
    height, width = shape
    x0, x1, y0, y1 = extent
    columns = np.floor((points[:, 0] - x0) * (width / (x1 - x0))).astype(np.int64)
    rows = np.floor((points[:, 1] - y0) * (height / (y1 - y0))).astype(np.int64)
    counts = np.zeros(height * width)
    sums = np.zeros((3, height * width))
    for dy in range(spread):
        for dx in range(spread):
            col, row = columns + dx - spread // 2, rows + dy - spread // 2
            inside = np.flatnonzero((col >= 0) & (col < width) & (row >= 0) & (row < height))
            flat = row[inside] * width + col[inside]
            counts += np.bincount(flat, minlength=height * width)
            for channel in range(3):
                sums[channel] += np.bincount(
                    flat, weights=rgb[inside, channel], minlength=height * width
                )
    image = np.zeros((height * width, 4), dtype=np.uint8)
    drawn = counts > 0
    image[drawn, :3] = np.round(255 * sums[:, drawn].T / counts[drawn, None])
    image[drawn, 3] = 255
    return image.reshape(height, width, 4)


def spread_for(n_visible: int, shape: tuple[int, int]) -> int:
    """Pixels per point side: 1 when points outnumber a tenth of the pixels, up to 4."""
    pixels = shape[0] * shape[1]
    for side in (4, 3, 2):
        if n_visible * side * side <= pixels / 10:
            return side
    return 1


class PointLocator:
    """The points inside a box, by binary search on the points sorted by x.

    Parameters
    ----------
    points
        (n, 2) data coordinates; sorted once (O(n log n)), then each box costs
        O(log n + points in its x-range).
    """

    def __init__(self, points: np.ndarray) -> None:
        self.points = np.asarray(points)
        self._order = np.argsort(self.points[:, 0], kind="stable")
        self._sorted_x = self.points[self._order, 0]

    def __len__(self) -> int:
        return len(self.points)

    def in_box(self, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
        """Indices (unsorted) of the points with x0 <= x <= x1 and y0 <= y <= y1."""
        lo = np.searchsorted(self._sorted_x, x0, side="left")
        hi = np.searchsorted(self._sorted_x, x1, side="right")
        candidates = self._order[lo:hi]
        y = self.points[candidates, 1]
        return candidates[(y >= y0) & (y <= y1)]

    def nearest(
        self,
        target: Sequence[float],
        to_display: Callable[[np.ndarray], np.ndarray],
        to_data: Callable[[np.ndarray], np.ndarray],
        max_distance: float,
    ) -> int | None:
        """The point closest to ``target`` (display pixels) within ``max_distance`` pixels.

        ``to_display`` / ``to_data`` map (m, 2) arrays between data and display
        coordinates (matplotlib's ``transData.transform`` and its inverse).
        """
        corners = np.array(
            [
                [target[0] - max_distance, target[1] - max_distance],
                [target[0] + max_distance, target[1] + max_distance],
            ]
        )
        (ax, ay), (bx, by) = to_data(corners)
        candidates = self.in_box(min(ax, bx), max(ax, bx), min(ay, by), max(ay, by))
        if len(candidates) == 0:
            return None
        found = nearest_point(to_display(self.points[candidates]), target, max_distance)
        return None if found is None else int(candidates[found])

    def in_polygon(self, vertices: Sequence[Sequence[float]]) -> np.ndarray:
        """Indices of the points inside the polygon ``vertices`` (data units), sorted."""
        if len(vertices) < 3 or len(self.points) == 0:
            return np.zeros(0, dtype=np.intp)
        corners = np.asarray(vertices, dtype=float)
        (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
        candidates = self.in_box(x0, x1, y0, y1)
        inside = PolygonPath(corners).contains_points(self.points[candidates])
        return np.sort(candidates[inside]).astype(np.intp)

"""Drawing and picking a million map points without a GPU: rasterizing, a point locator.

No Qt here. A scatter of a million markers takes seconds to draw, so large maps are drawn
as an image: every point falls in one pixel of the visible window and each pixel shows the
mean colour of its points (as datashader does), recomputed for each pan or zoom in tens of
milliseconds. Clicks and lassos look up a grid index of the points (``PointLocator``): a click
looks at the points of the few cells around it, a lasso tests only the points of the cells
its outline crosses, instead of transforming or testing every point; ``nearest_point`` and
``points_in_polygon`` are the brute-force tests of a small map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.path import Path as PolygonPath

Extent = tuple[float, float, float, float]  # x0, x1, y0, y1 (data units)


def rasterise(
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
    >>> image = rasterise(np.array([[0.5, 0.5]]), np.array([[1.0, 0, 0]]), (0, 1, 0, 1), (4, 4))
    >>> image[2, 2].tolist()
    [255, 0, 0, 255]
    """
    height, width = shape
    counts = np.zeros(height * width)
    sums = np.zeros((3, height * width))
    for inside, flat in _pixels(points, extent, shape, spread):
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


def footprint(
    points: np.ndarray, extent: Extent, shape: tuple[int, int], spread: int = 1
) -> np.ndarray:
    """The pixels of :func:`rasterise` that hold at least one point, as a (rows, columns)
    bool mask: all a single-colour layer (the highlighted points) needs.

    Examples
    --------
    >>> footprint(np.array([[0.5, 0.5]]), (0, 1, 0, 1), (4, 4)).nonzero()
    (array([2]), array([2]))
    """
    covered = np.zeros(shape[0] * shape[1], dtype=bool)
    for _, flat in _pixels(points, extent, shape, spread):
        covered[flat] = True
    return covered.reshape(shape)


def _pixels(points: np.ndarray, extent: Extent, shape: tuple[int, int], spread: int):
    """For each of the ``spread`` x ``spread`` offsets: the points that land in the image
    and their flat pixel indices."""
    height, width = shape
    x0, x1, y0, y1 = extent
    columns = np.floor((points[:, 0] - x0) * (width / (x1 - x0))).astype(np.int64)
    rows = np.floor((points[:, 1] - y0) * (height / (y1 - y0))).astype(np.int64)
    for dy in range(spread):
        for dx in range(spread):
            col, row = columns + dx - spread // 2, rows + dy - spread // 2
            inside = np.flatnonzero((col >= 0) & (col < width) & (row >= 0) & (row < height))
            yield inside, row[inside] * width + col[inside]


def spread_for(n_visible: int, shape: tuple[int, int]) -> int:
    """Pixels per point side: 1 when points outnumber a tenth of the pixels, up to 4."""
    pixels = shape[0] * shape[1]
    for side in (4, 3, 2):
        if n_visible * side * side <= pixels / 10:
            return side
    return 1


class PointLocator:
    """The points inside a box or a polygon, and the nearest to a click, from a grid index.

    The points' bounding box is cut into ``side`` x ``side`` cells; the points are sorted by
    cell (row-major), so the points of a row of cells are one slice. A box then costs the
    points of the cells it touches; a polygon (a lasso) tests only the points of the cells
    its edges cross: every other cell of its bounding box lies wholly inside or wholly
    outside, decided once per connected group of such cells.

    Parameters
    ----------
    points
        (n, 2) data coordinates; indexed once (O(n log n)).
    side
        Cells per side of the grid; default about one cell per 4 points, at most 512.
    """

    def __init__(self, points: np.ndarray, side: int | None = None) -> None:
        self.points = np.asarray(points)
        n_points = len(self.points)
        self.side = side or int(np.clip(np.sqrt(n_points / 4), 1, 512))
        if n_points:
            self._bounds = self.points.min(axis=0), self.points.max(axis=0)
            self._low = self._bounds[0].astype(np.float64)
            span = self._bounds[1].astype(np.float64) - self._low
        else:
            self._bounds = None
            self._low, span = np.zeros(2), np.ones(2)
        self._cell_size = np.where(span > 0, span, 1.0) / self.side
        columns, rows = self._cell_of(self.points)
        cell = rows * self.side + columns
        self._order = np.argsort(cell, kind="stable").astype(np.intp)
        self._sorted = np.ascontiguousarray(self.points[self._order])
        counts = np.bincount(cell, minlength=self.side * self.side)
        self._starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)

    def __len__(self) -> int:
        return len(self.points)

    def shows_all(self, x0: float, x1: float, y0: float, y1: float) -> bool:
        """Whether the box holds every point (then there is nothing to look up)."""
        if self._bounds is None:
            return True
        low, high = self._bounds
        return x0 <= low[0] and high[0] <= x1 and y0 <= low[1] and high[1] <= y1

    def _cell_of(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(column, row) of the cell of each point, clipped to the grid."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        cells = np.floor((xy - self._low) / self._cell_size).astype(np.int64)
        cells = np.clip(cells, 0, self.side - 1)
        return cells[:, 0], cells[:, 1]

    def _cell_window(self, x0: float, x1: float, y0: float, y1: float) -> tuple[int, ...] | None:
        """First and last (column, row) of the cells a box touches; None if it misses."""
        top = self._low + self._cell_size * self.side
        if len(self.points) == 0 or x0 > x1 or y0 > y1:
            return None
        if x1 < self._low[0] or y1 < self._low[1] or x0 > top[0] or y0 > top[1]:
            return None
        (c0, c1), (r0, r1) = self._cell_of(np.array([[x0, y0], [x1, y1]]))
        return int(c0), int(c1), int(r0), int(r1)

    def _positions(self, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Sorted-order positions of the points of cells ``first[i]..last[i]`` (flat ids)."""
        begin, end = self._starts[first], self._starts[np.asarray(last) + 1]
        lengths = end - begin
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, dtype=np.intp)
        # one arange for all slices: each slice's start minus where it begins in the output
        shift = np.repeat(begin - (np.cumsum(lengths) - lengths), lengths)
        return shift + np.arange(total, dtype=np.intp)

    def in_box(self, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
        """Indices (unsorted) of the points with x0 <= x <= x1 and y0 <= y <= y1."""
        window = self._cell_window(x0, x1, y0, y1)
        if window is None:
            return np.zeros(0, dtype=np.intp)
        c0, c1, r0, r1 = window
        rows = np.arange(r0, r1 + 1) * self.side
        positions = self._positions(rows + c0, rows + c1)
        x, y = self._sorted[positions, 0], self._sorted[positions, 1]
        keep = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        return self._order[positions[keep]]

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
        # ties go to the lowest index, as a brute-force argmin over all points would
        candidates = np.sort(candidates)
        found = nearest_point(to_display(self.points[candidates]), target, max_distance)
        return None if found is None else int(candidates[found])

    def in_polygon(self, vertices: Sequence[Sequence[float]]) -> np.ndarray:
        """Indices of the points inside the polygon ``vertices`` (data units), sorted.

        The same points as ``Path(vertices).contains_points`` on every point: that test
        runs only on the points of the cells the polygon's edges cross.
        """
        if len(vertices) < 3 or len(self.points) == 0:
            return np.zeros(0, dtype=np.intp)
        corners = np.asarray(vertices, dtype=np.float64)
        (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
        window = self._cell_window(x0, x1, y0, y1)
        if window is None:
            return np.zeros(0, dtype=np.intp)
        c0, c1, r0, r1 = window
        polygon = PolygonPath(corners)
        crossed = self._crossed_cells(corners, window)
        inside_cells = self._cells_inside(polygon, crossed, window)
        rows, columns = np.nonzero(inside_cells)
        flat = (rows + r0) * self.side + columns + c0
        whole = self._positions(flat, flat)
        rows, columns = np.nonzero(crossed)
        flat = (rows + r0) * self.side + columns + c0
        edge = self._positions(flat, flat)
        edge = edge[polygon.contains_points(self._sorted[edge])]
        return np.sort(self._order[np.concatenate([whole, edge])]).astype(np.intp)

    def _crossed_cells(self, corners: np.ndarray, window: tuple[int, ...]) -> np.ndarray:
        """Cells of the window an edge of the closed polygon may touch (a superset).

        Each edge is sampled at most half a cell apart, so every point of it lies within a
        quarter cell of a sample: a cell it touches is the sample's cell or a neighbour.
        """
        c0, c1, r0, r1 = window
        ends = np.vstack([corners, corners[:1]])
        steps = np.abs(np.diff(ends, axis=0)) / self._cell_size
        counts = np.ceil(2 * steps.max(axis=1)).astype(np.int64) + 1
        fraction = np.concatenate([np.linspace(0, 1, k) for k in counts])
        start = np.repeat(ends[:-1], counts, axis=0)
        samples = start + fraction[:, None] * np.repeat(np.diff(ends, axis=0), counts, axis=0)
        columns, rows = self._cell_of(samples)
        crossed = np.zeros((r1 - r0 + 3, c1 - c0 + 3), dtype=bool)  # a cell of margin
        keep = (columns >= c0 - 1) & (columns <= c1 + 1) & (rows >= r0 - 1) & (rows <= r1 + 1)
        crossed[rows[keep] - r0 + 1, columns[keep] - c0 + 1] = True
        grown = crossed.copy()
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)):
            grown[1:-1, 1:-1] |= crossed[
                1 + dy : crossed.shape[0] - 1 + dy, 1 + dx : -1 + dx or None
            ]
        return grown[1:-1, 1:-1]

    def _cells_inside(
        self, polygon: PolygonPath, crossed: np.ndarray, window: tuple[int, ...]
    ) -> np.ndarray:
        """Cells of the window wholly inside the polygon (no edge touches them).

        Neighbouring cells untouched by any edge are on the same side of it: one centre
        per connected group of them is tested.
        """
        from scipy import ndimage

        c0, _, r0, _ = window
        groups, n_groups = ndimage.label(~crossed)
        labels, first = np.unique(groups.ravel(), return_index=True)
        first = first[labels > 0]  # one cell per group (label 0: the crossed cells)
        rows, columns = np.divmod(first, crossed.shape[1])
        centres = self._low + self._cell_size * (np.c_[columns + c0, rows + r0] + 0.5)
        inside = np.zeros(n_groups + 1, dtype=bool)
        inside[labels[labels > 0]] = polygon.contains_points(centres)
        return inside[groups]


def nearest_point(points: np.ndarray, target: Sequence[float], max_distance: float) -> int | None:
    """Index of the point closest to ``target`` if within ``max_distance``, else None.

    Use display (pixel) coordinates so that the click tolerance does not depend on zoom.
    """
    if len(points) == 0:
        return None
    distances = np.hypot(points[:, 0] - target[0], points[:, 1] - target[1])
    index = int(np.argmin(distances))
    return index if distances[index] <= max_distance else None


def points_in_polygon(points: np.ndarray, vertices: Sequence[Sequence[float]]) -> np.ndarray:
    """Indices of ``points`` inside the polygon ``vertices`` (a lasso), sorted."""
    if len(vertices) < 3 or len(points) == 0:
        return np.zeros(0, dtype=np.intp)
    inside = PolygonPath(np.asarray(vertices, dtype=float)).contains_points(points)
    return np.nonzero(inside)[0].astype(np.intp)

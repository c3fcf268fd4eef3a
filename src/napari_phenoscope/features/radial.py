"""CellProfiler's MeasureObjectIntensityDistribution with each object as its own centre.

FracAtD, MeanFrac and RadialCV of every object in rings from its centre (the pixel farthest
from its edge) to its edge, the distance from the centre measured inside the object.
cp_measure, CellProfiler's code, is the test oracle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import dijkstra

from napari_phenoscope.features._labels import safe_divide

RADIAL_FEATURES: tuple[str, ...] = ("FracAtD", "MeanFrac", "RadialCV")
# 8-neighbour offsets in increasing flat order (so each CSR row's columns come sorted)
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def radial_distribution(
    image: np.ndarray, index: np.ndarray, n_cells: int, channels: Sequence[str], bins: int
) -> dict[str, np.ndarray]:
    """FracAtD, MeanFrac and RadialCV of every label in ``bins`` rings from centre to edge.

    As MeasureObjectIntensityDistribution with each object as its own centre: the centre is
    the object's pixel farthest from its edge (the first in row-major order on ties), a
    pixel's distance from it is measured inside the object (8-connected steps of 1 and
    sqrt 2), its distance to the edge is the Euclidean distance to the nearest pixel outside
    the object, and its ring is floor(bins * d_centre / (d_centre + d_edge + 0.001)).
    RadialCV is the coefficient of variation of the mean intensity of 8 wedges of a ring.
    Keys are ``{Feature}_{channel}_{ring}of{bins}``.
    """
    to_edge = _distance_to_edge(index, n_cells)
    centres = _farthest_from_edge(to_edge, index, n_cells)
    to_centre = _distance_inside(index, centres)
    reached = np.isfinite(to_centre)  # pixels cut off from their object's centre are left out
    labels = index[reached] - 1
    radius = to_centre[reached] / (to_centre[reached] + to_edge[reached] + 0.001)
    ring = np.minimum((radius * bins).astype(np.int64), bins)
    rows, cols = np.nonzero(reached)
    centre_rows, centre_cols = np.unravel_index(centres[labels], index.shape)
    wedge = (
        (rows > centre_rows).astype(np.int64)
        + 2 * (cols > centre_cols)
        + 4 * (np.abs(rows - centre_rows) > np.abs(cols - centre_cols))
    )
    ring_code = labels * bins + ring
    wedge_code = ring_code * 8 + wedge
    ring_pixels = np.bincount(ring_code, minlength=n_cells * bins).reshape(n_cells, bins)
    pixel_fraction = safe_divide(ring_pixels, ring_pixels.sum(axis=1, keepdims=True))
    wedge_pixels = np.bincount(wedge_code, minlength=n_cells * bins * 8).reshape(-1, 8)
    occupied = wedge_pixels > 0
    columns = {}
    for position, channel in enumerate(channels):
        values = image[position][reached]
        per_ring = np.bincount(ring_code, weights=values, minlength=n_cells * bins)
        per_ring = per_ring.reshape(n_cells, bins)
        fraction = safe_divide(per_ring, per_ring.sum(axis=1, keepdims=True))
        mean_fraction = fraction / (pixel_fraction + np.finfo(float).eps)
        wedge_sums = np.bincount(wedge_code, weights=values, minlength=n_cells * bins * 8)
        wedge_means = safe_divide(wedge_sums.reshape(-1, 8), wedge_pixels)
        n_wedges = occupied.sum(axis=1)
        mean = safe_divide(wedge_means.sum(axis=1), n_wedges)
        spread = np.sqrt(
            safe_divide((occupied * (wedge_means - mean[:, None]) ** 2).sum(axis=1), n_wedges)
        )
        radial_cv = safe_divide(spread, mean).reshape(n_cells, bins)
        for ring_number in range(bins):
            suffix = f"{channel}_{ring_number + 1}of{bins}"
            columns[f"FracAtD_{suffix}"] = fraction[:, ring_number]
            columns[f"MeanFrac_{suffix}"] = mean_fraction[:, ring_number]
            columns[f"RadialCV_{suffix}"] = radial_cv[:, ring_number]
    return columns


def _distance_to_edge(index: np.ndarray, n_cells: int) -> np.ndarray:
    """Euclidean distance of each pixel to the nearest pixel outside its own label.

    CellProfiler colours the labels so that touching objects are apart, then distance-
    transforms each colour; the distance transform of each label's bounding box grown by
    one pixel (the image border is not an edge, as there) gives the same distances.
    """
    distances = np.zeros(index.shape)
    for label, box in enumerate(ndimage.find_objects(index, max_label=n_cells), start=1):
        if box is None:
            continue
        grown = tuple(
            slice(max(part.start - 1, 0), min(part.stop + 1, size))
            for part, size in zip(box, index.shape, strict=True)
        )
        own = index[grown] == label
        distances[grown][own] = ndimage.distance_transform_edt(own)[own]
    return distances


def _farthest_from_edge(to_edge: np.ndarray, index: np.ndarray, n_cells: int) -> np.ndarray:
    """Flat position of each label's pixel farthest from its edge (first in row-major order)."""
    flat_index, flat_distance = index.ravel(), to_edge.ravel()
    maxima = np.full(n_cells + 1, -np.inf)
    np.maximum.at(maxima, flat_index, flat_distance)
    at_maximum = np.flatnonzero((flat_index > 0) & (flat_distance == maxima[flat_index]))
    first = np.full(n_cells + 1, index.size, dtype=np.int64)
    np.minimum.at(first, flat_index[at_maximum], at_maximum)
    return first[1:]  # index.size for a label without pixels


def _distance_inside(index: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Shortest 8-connected path (steps 1 and sqrt 2) from each label's centre, inside it.

    CellProfiler's ``propagate`` on a blank image, object by object. Without obstacles that
    path length is the octagonal distance max - min + sqrt(2) min of |dy|, |dx|, a lower
    bound everywhere; where it also satisfies the shortest-path equations inside the object
    (each pixel but the centre has a neighbour of its label one step closer) it is the
    answer. Only objects where it does not (concave ones, whose shortest paths bend) go
    through one Dijkstra over a graph of their pixels. Pixels not connected to their centre
    are ``inf``.
    """
    rows, cols = np.nonzero(index)
    labels = index[rows, cols]
    centre_rows, centre_cols = np.unravel_index(
        np.minimum(centres, index.size - 1)[labels - 1], index.shape
    )
    offset_rows, offset_cols = np.abs(rows - centre_rows), np.abs(cols - centre_cols)
    diagonal = np.minimum(offset_rows, offset_cols)  # diagonal steps, then straight ones
    straight = np.maximum(offset_rows, offset_cols) - diagonal
    octagonal = straight + np.sqrt(2.0) * diagonal
    distances = np.full(index.shape, np.inf)
    distances[rows, cols] = octagonal
    padded_distance = np.pad(distances, 1, constant_values=np.inf).ravel()
    padded_index = np.pad(index, 1).ravel()
    position = (rows + 1) * (index.shape[1] + 2) + cols + 1
    closest = np.full(rows.size, np.inf)
    for dy, dx in _NEIGHBOURS:
        neighbour = position + dy * (index.shape[1] + 2) + dx
        step = padded_distance[neighbour] + np.hypot(dy, dx)
        step[padded_index[neighbour] != labels] = np.inf
        np.minimum(closest, step, out=closest)
    consistent = (closest <= octagonal + 1e-9) | (octagonal == 0)
    bent = np.zeros(int(index.max()) + 1, dtype=bool)
    bent[labels[~consistent]] = True
    if bent.any():
        subset = np.where(bent[index], index, 0)
        found = _dijkstra_inside(subset, centres)
        distances[subset > 0] = found[subset > 0]
    return distances


def _dijkstra_inside(index: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """In-object shortest paths from the centres by one Dijkstra over all labelled pixels."""
    height, width = index.shape
    padded = np.pad(index, 1)
    flat = padded.ravel()
    pixels = np.flatnonzero(flat)
    node = np.full(flat.size, -1, dtype=np.int64)
    node[pixels] = np.arange(pixels.size)
    neighbours = pixels[:, None] + np.array([dy * (width + 2) + dx for dy, dx in _NEIGHBOURS])
    linked = flat[neighbours] == flat[pixels][:, None]
    steps = np.array([np.hypot(dy, dx) for dy, dx in _NEIGHBOURS])
    graph = sparse.csr_matrix(
        (
            np.broadcast_to(steps, linked.shape)[linked],
            node[neighbours[linked]],
            np.concatenate([[0], np.cumsum(linked.sum(axis=1))]),
        ),
        shape=(pixels.size, pixels.size),
    )
    present = np.zeros(centres.size, dtype=bool)
    present[np.unique(index[index > 0]) - 1] = True
    rows, cols = np.unravel_index(centres[present], index.shape)
    sources = node[(rows + 1) * (width + 2) + cols + 1]
    distances = np.full(index.shape, np.inf)
    if sources.size:
        inner = node.reshape(padded.shape)[1:-1, 1:-1]
        found = dijkstra(graph, directed=True, indices=sources, min_only=True)
        distances[inner >= 0] = found[inner[inner >= 0]]
    return distances

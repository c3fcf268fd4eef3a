"""Texture, granularity and radial distribution of cells: the heavier classical features.

Haralick features of a grey-level co-occurrence matrix per cell (CellProfiler's
``MeasureTexture``), the granularity spectrum (``MeasureGranularity``) and the radial
distribution of intensity from the nucleus outwards (``MeasureObjectIntensityDistribution``),
all vectorised over labels like the rest of ``classical``, which calls them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import ndimage
from skimage.segmentation import find_boundaries

HARALICK_FEATURES: tuple[str, ...] = (
    "AngularSecondMoment",
    "Contrast",
    "Correlation",
    "Variance",
    "InverseDifferenceMoment",
    "SumAverage",
    "SumVariance",
    "SumEntropy",
    "Entropy",
    "DifferenceVariance",
    "DifferenceEntropy",
    "InfoMeas1",
    "InfoMeas2",
)
GRANULARITY_COMPARTMENTS: tuple[str, ...] = ("Cells", "Nuclei")


def per_label_sum(index: np.ndarray, weights: np.ndarray | None, n_cells: int) -> np.ndarray:
    """Sum of ``weights`` (or pixel count) per label 1..n of a dense label image."""
    return np.bincount(
        index.ravel(), weights=None if weights is None else weights.ravel(), minlength=n_cells + 1
    )[1:]


def safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(numerator, denominator).shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _pair_views(array: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """The two (Y - dy, X - |dx|) views of pixel pairs ``(y, x)`` and ``(y + dy, x + dx)``."""
    height, width = array.shape
    if dx >= 0:
        first_x, second_x = slice(0, width - dx), slice(dx, width)
    else:
        first_x, second_x = slice(-dx, width), slice(0, width + dx)
    return array[0 : height - dy, first_x], array[dy:height, second_x]


def texture_features(
    image: np.ndarray,
    index: np.ndarray,
    n_cells: int,
    compartment: str,
    channels: Sequence[str],
    distance: int,
    levels: int,
) -> dict[str, np.ndarray]:
    """Haralick features of each label's grey-level co-occurrence matrix, mean of 4 angles.

    Pixel pairs whose two pixels are not in the same label are ignored (as CellProfiler
    masks the object), and each cell is quantised between its own minimum and maximum.
    """
    inside = index > 0
    labels = index[inside]
    pixels = pd.DataFrame(image[:, inside].T, columns=list(channels))
    pixels["label"] = labels
    grouped = pixels.groupby("label", sort=True)
    low, high = grouped.min(), grouped.max()
    offsets = ((0, distance), (distance, distance), (distance, 0), (distance, -distance))
    # flat positions of the pixel pairs inside one label, per angle (shared by channels)
    width_px = index.shape[1]
    pairs = []
    for dy, dx in offsets:
        first, second = _pair_views(index, dy, dx)
        rows, cols = np.nonzero((first == second) & (first > 0))
        start = rows * width_px + cols + max(0, -dx)
        pair_code = (index.ravel()[start] - 1) * levels * levels
        pairs.append((start, start + dy * width_px + dx, pair_code))
    inside_flat = np.flatnonzero(inside.ravel())
    columns = {}
    for position, channel in enumerate(channels):
        minimum = np.zeros(n_cells + 1)
        width = np.zeros(n_cells + 1)
        minimum[low.index] = low[channel].to_numpy()
        width[low.index] = (high[channel] - low[channel]).to_numpy()
        quantised = np.zeros(index.size, dtype=np.int64)
        relative = safe_divide(image[position][inside] - minimum[labels], width[labels])
        quantised[inside_flat] = np.minimum((relative * levels).astype(np.int64), levels - 1)
        matrices = np.zeros((len(offsets), n_cells, levels, levels))
        for angle, (start, end, pair_code) in enumerate(pairs):
            code = pair_code + quantised[start] * levels + quantised[end]
            counts = np.bincount(code, minlength=n_cells * levels * levels)
            counts = counts.reshape(n_cells, levels, levels).astype(np.float64)
            matrices[angle] = counts + counts.transpose(0, 2, 1)
        for feature, values in _haralick(matrices).items():
            columns[f"{compartment}_Texture_{feature}_{channel}_{distance}"] = values.mean(axis=0)
    return columns


def _entropy(probabilities: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    logs = np.log2(probabilities, out=np.zeros_like(probabilities), where=probabilities > 0)
    return -(probabilities * logs).sum(axis=axes)


def _haralick(counts: np.ndarray) -> dict[str, np.ndarray]:
    """The 13 Haralick (1973) features of co-occurrence counts shaped (..., L, L).

    A matrix without pairs (a cell smaller than the offset) gives 0 for every feature.
    """
    levels = counts.shape[-1]
    total = counts.sum(axis=(-2, -1), keepdims=True)
    p = safe_divide(counts, total)
    i = np.arange(levels, dtype=np.float64)[:, None]
    j = np.arange(levels, dtype=np.float64)[None, :]
    px, py = p.sum(axis=-1), p.sum(axis=-2)
    mu_x, mu_y = (px * i[:, 0]).sum(-1), (py * j[0]).sum(-1)
    sd_x = np.sqrt((px * (i[:, 0] - mu_x[..., None]) ** 2).sum(-1))
    sd_y = np.sqrt((py * (j[0] - mu_y[..., None]) ** 2).sum(-1))
    sums = (i + j).astype(np.int64).ravel()
    diffs = np.abs(i - j).astype(np.int64).ravel()
    flat = p.reshape(*p.shape[:-2], levels * levels)
    p_sum = flat @ np.eye(2 * levels - 1)[sums]  # p_{x+y}(k), k = 0 .. 2L-2
    p_diff = flat @ np.eye(levels)[diffs]  # p_{x-y}(k), k = 0 .. L-1
    k_sum = np.arange(2 * levels - 1, dtype=np.float64)
    k_diff = np.arange(levels, dtype=np.float64)
    sum_average = (p_sum * k_sum).sum(-1)
    diff_mean = (p_diff * k_diff).sum(-1)
    entropy = _entropy(p, (-2, -1))
    outer = px[..., :, None] * py[..., None, :]
    log_outer = np.log2(outer, out=np.zeros_like(outer), where=outer > 0)
    hxy1 = -(p * log_outer).sum(axis=(-2, -1))
    hxy2 = -(outer * log_outer).sum(axis=(-2, -1))
    hx, hy = _entropy(px, (-1,)), _entropy(py, (-1,))
    return {
        "AngularSecondMoment": (p**2).sum(axis=(-2, -1)),
        "Contrast": (p * (i - j) ** 2).sum(axis=(-2, -1)),
        "Correlation": safe_divide((p * i * j).sum(axis=(-2, -1)) - mu_x * mu_y, sd_x * sd_y),
        "Variance": (p * (i - mu_x[..., None, None]) ** 2).sum(axis=(-2, -1)),
        "InverseDifferenceMoment": (p / (1.0 + (i - j) ** 2)).sum(axis=(-2, -1)),
        "SumAverage": sum_average,
        "SumVariance": (p_sum * (k_sum - sum_average[..., None]) ** 2).sum(-1),
        "SumEntropy": _entropy(p_sum, (-1,)),
        "Entropy": entropy,
        "DifferenceVariance": (p_diff * (k_diff - diff_mean[..., None]) ** 2).sum(-1),
        "DifferenceEntropy": _entropy(p_diff, (-1,)),
        "InfoMeas1": safe_divide(entropy - hxy1, np.maximum(hx, hy)),
        "InfoMeas2": np.sqrt(np.clip(1.0 - np.exp(-2.0 * (hxy2 - entropy)), 0.0, None)),
    }


def granularity_features(
    image: np.ndarray,
    compartments: dict[str, np.ndarray],
    n_cells: int,
    channels: Sequence[str],
    scales: int,
    subsample: int = 2,
) -> dict[str, np.ndarray]:
    """Granular spectrum: % of each label's intensity removed by openings of growing size.

    Like CellProfiler's MeasureGranularity (which also subsamples the image first) without
    its background subtraction and reconstruction: scale k is the signal that survives an
    opening of size 2k - 1 but not one of size 2k + 1, on the image subsampled ``subsample``
    times (square elements, so the min/max filters are separable and fast).
    """
    height, width = image.shape[1:]
    height, width = height - height % subsample, width - width % subsample
    small = (
        image[:, :height, :width]
        .reshape(len(channels), height // subsample, subsample, width // subsample, subsample)
        .mean(axis=(2, 4))
    )
    indexes = {
        name: compartments[name][:height:subsample, :width:subsample]
        for name in GRANULARITY_COMPARTMENTS
    }
    inside = {name: index > 0 for name, index in indexes.items()}
    labels = {name: indexes[name][inside[name]] for name in GRANULARITY_COMPARTMENTS}
    columns = {}
    for position, channel in enumerate(channels):
        previous = small[position]
        totals = {
            name: per_label_sum(labels[name], previous[inside[name]], n_cells)
            for name in GRANULARITY_COMPARTMENTS
        }
        previous_sums = dict(totals)
        for scale in range(1, scales + 1):
            opened = ndimage.grey_opening(previous, size=(2 * scale + 1, 2 * scale + 1))
            for name in GRANULARITY_COMPARTMENTS:
                current = per_label_sum(labels[name], opened[inside[name]], n_cells)
                columns[f"{name}_Granularity_{scale}_{channel}"] = 100.0 * safe_divide(
                    previous_sums[name] - current, totals[name]
                )
                previous_sums[name] = current
            previous = opened
    return columns


def radial_features(
    image: np.ndarray,
    cell_index: np.ndarray,
    nucleus_index: np.ndarray,
    n_cells: int,
    channels: Sequence[str],
    bins: int,
) -> dict[str, np.ndarray]:
    """Fraction of each cell's intensity in rings from its nucleus centre to its edge.

    The normalised distance of a pixel is d_centre / (d_centre + d_edge), CellProfiler's
    MeasureObjectIntensityDistribution; a cell without a nucleus uses its own centroid.
    """
    yy, xx = np.indices(cell_index.shape, dtype=np.float64)
    centres = []
    for index in (nucleus_index, cell_index):
        area = per_label_sum(index, None, n_cells)
        centres.append(
            (
                safe_divide(per_label_sum(index, yy, n_cells), area),
                safe_divide(per_label_sum(index, xx, n_cells), area),
                area > 0,
            )
        )
    has_nucleus = centres[0][2]
    centre_y = np.where(has_nucleus, centres[0][0], centres[1][0])
    centre_x = np.where(has_nucleus, centres[0][1], centres[1][1])
    inside = cell_index > 0
    labels = cell_index[inside] - 1
    interior = inside & ~find_boundaries(cell_index, mode="inner")
    to_edge = ndimage.distance_transform_edt(interior)[inside]
    to_centre = np.hypot(yy[inside] - centre_y[labels], xx[inside] - centre_x[labels])
    radius = safe_divide(to_centre, to_centre + to_edge)
    ring = np.minimum((radius * bins).astype(np.int64), bins - 1)
    code = labels * bins + ring
    columns = {}
    for position, channel in enumerate(channels):
        values = image[position][inside]
        per_ring = np.bincount(code, weights=values, minlength=n_cells * bins)
        per_ring = per_ring.reshape(n_cells, bins)
        fractions = safe_divide(per_ring, per_ring.sum(axis=1, keepdims=True))
        for ring_number in range(bins):
            name = f"Cells_RadialDistribution_FracAtD_{channel}_{ring_number + 1}of{bins}"
            columns[name] = fractions[:, ring_number]
    return columns

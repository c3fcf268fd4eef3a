"""CellProfiler's MeasureTexture: Haralick features of each object's co-occurrence matrices.

The field is quantised once (``grey_levels``: 256 levels of the [0, 1] image, not each
object's own range); for each scale the co-occurrence matrix of every object is counted in 4
directions, reported separately, and its 13 features follow mahotas' ``haralick`` with
``ignore_zeros=True``, which is CellProfiler's code (cp_measure is the test oracle). The
matrices stay sparse: one list of (label, low level, high level, count) entries per channel
and direction, from one ``numpy.unique`` over the pixel pairs of all objects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_phenoscope.features._labels import safe_divide

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
# CellProfiler's 2-D co-occurrence directions (y, x), reported as _00 .. _03 after the scale
TEXTURE_DIRECTIONS: tuple[tuple[int, int], ...] = ((0, 1), (1, 1), (1, 0), (1, -1))


def grey_levels(image: np.ndarray, levels: int = 256) -> np.ndarray:
    """Quantise a [0, 1] image as CellProfiler's MeasureTexture does.

    The whole image becomes 8-bit (``skimage.util.img_as_ubyte``: round(255 x)); with fewer
    than 256 levels, those bytes are then rescaled from [0, 255] to [0, levels - 1] and
    truncated. No per-cell stretching: a dim cell uses few levels, as in CellProfiler.

    Examples
    --------
    >>> grey_levels(np.array([0.0, 0.5, 1.0])).tolist()
    [0, 128, 255]
    >>> grey_levels(np.array([0.0, 0.5, 1.0]), levels=8).tolist()
    [0, 3, 7]
    """
    if not 2 <= levels <= 256:
        raise ValueError(f"texture levels must be between 2 and 256; got {levels}")
    grey = np.multiply(image, 255.0)  # one temporary, then in place: a field is ~50 MB
    np.clip(grey, 0.0, 255.0, out=grey)
    np.rint(grey, out=grey)
    if levels != 256:
        grey = grey / 255.0 * (levels - 1)  # skimage.exposure.rescale_intensity's arithmetic
    return grey.astype(np.uint8)


def _pair_views(array: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """The two (Y - dy, X - |dx|) views of pixel pairs ``(y, x)`` and ``(y + dy, x + dx)``."""
    height, width = array.shape
    if dx >= 0:
        first_x, second_x = slice(0, width - dx), slice(dx, width)
    else:
        first_x, second_x = slice(-dx, width), slice(0, width + dx)
    return array[0 : height - dy, first_x], array[dy:height, second_x]


def _label_pairs(index: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, ...]:
    """Flat positions of the pixel pairs at offset (dy, dx) inside one label, and the label."""
    width = index.shape[1]
    first, second = _pair_views(index, dy, dx)
    rows, cols = np.nonzero((first == second) & (first > 0))
    start = rows * width + cols + max(0, -dx)
    return start, start + dy * width + dx, index.ravel()[start] - 1


def _per_label_max(index: np.ndarray, planes: np.ndarray, n_cells: int) -> np.ndarray:
    """(C, n_cells) maximum of each plane over each label (0 for a label without pixels)."""
    inside = index > 0
    labels = index[inside]
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=n_cells + 1)[1:]
    maxima = np.zeros((planes.shape[0], n_cells), dtype=planes.dtype)
    if labels.size:
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        present = counts > 0
        values = planes[:, inside][:, order]
        maxima[:, present] = np.maximum.reduceat(values, starts[present], axis=1)
    return maxima


def haralick_features(
    grey: np.ndarray,
    index: np.ndarray,
    n_cells: int,
    channels: Sequence[str],
    scales: Sequence[int],
    levels: int,
) -> dict[str, np.ndarray]:
    """CellProfiler's Haralick features of every label, per channel, scale and direction.

    Keys are ``{Feature}_{channel}_{scale}_{direction:02d}_{levels}``. As CellProfiler
    (mahotas' ``haralick(..., ignore_zeros=True)`` on each object's crop), pairs holding a
    pixel of grey level 0 are left out; an object without pairs in one direction of a scale,
    NaN in CellProfiler, measures 0 in every direction of that scale. ``grey`` is the
    image quantised by ``grey_levels``.
    """
    flat = grey.reshape(grey.shape[0], -1)
    # mahotas sizes each object's matrix by the object's highest grey level (DifferenceVariance
    # is the variance of the |i - j| histogram over that many bins)
    matrix_size = _per_label_max(index, grey, n_cells).astype(np.int64) + 1
    columns = {}
    for scale in scales:
        pairs = [_label_pairs(index, dy * scale, dx * scale) for dy, dx in TEXTURE_DIRECTIONS]
        for position, channel in enumerate(channels):
            per_direction = [
                _haralick_from_pairs(flat[position], *pair, n_cells, levels, matrix_size[position])
                for pair in pairs
            ]
            measurable = np.all([has_pairs for _, has_pairs in per_direction], axis=0)
            for direction, (features, _) in enumerate(per_direction):
                for feature, values in features.items():
                    key = f"{feature}_{channel}_{scale}_{direction:02d}_{levels}"
                    columns[key] = np.where(measurable, values, 0.0)
    return columns


def _haralick_from_pairs(
    grey: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    labels: np.ndarray,
    n_cells: int,
    levels: int,
    matrix_size: np.ndarray,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Haralick features of each label's symmetric co-occurrence matrix, kept sparse.

    Each label's matrix is a list of entries (label, low, high, count) over unordered pairs:
    the symmetric matrix holds ``count`` at (low, high) and at (high, low) (``2 count`` on the
    diagonal), so a sum of p(i, j) f(i, j) over it is a sum of ``count / pairs`` f(low, high).
    """
    first, second = grey[start], grey[end]
    keep = (first > 0) & (second > 0)
    first, second, labels = first[keep], second[keep], labels[keep]
    low, high = np.minimum(first, second), np.maximum(first, second)
    # int32 codes sort twice as fast; they fit for up to 32767 cells at 256 levels
    code_type = np.int32 if n_cells * levels * levels < 2**31 else np.int64
    codes = (labels.astype(code_type) * levels + low) * levels + high
    codes, counts = np.unique(codes, return_counts=True)
    cell, low, high = codes // (levels * levels), (codes // levels) % levels, codes % levels
    pairs = np.bincount(cell, weights=counts, minlength=n_cells).astype(np.float64)
    weight = counts / pairs[cell]  # sum over the symmetric matrix of p(i, j) at (low, high)
    cells_per_entry = np.where(low == high, 1.0, 2.0)
    probability = weight / cells_per_entry  # p(i, j) of each of those matrix cells

    def per_cell(values: np.ndarray) -> np.ndarray:
        return np.bincount(cell, weights=values, minlength=n_cells).astype(np.float64)

    def histogram(keys: np.ndarray, values: np.ndarray, width: int) -> np.ndarray:
        counts = np.bincount(cell * width + keys, weights=values, minlength=n_cells * width)
        return counts.astype(np.float64).reshape(n_cells, width)

    grey_axis = np.arange(levels, dtype=np.float64)
    sum_axis = np.arange(2 * levels, dtype=np.float64)
    marginal = histogram(low, weight / 2, levels) + histogram(high, weight / 2, levels)
    mean = marginal @ grey_axis
    variance = marginal @ grey_axis**2 - mean**2
    difference = (high - low).astype(np.float64)
    p_sum = histogram(low + high, weight, 2 * levels)
    p_difference = histogram(high - low, weight, levels)
    sum_average = p_sum @ sum_axis
    entropy = -per_cell(cells_per_entry * probability * np.log2(probability))
    hx = _entropy_rows(marginal)
    hxy1 = -per_cell(weight * np.log2(marginal[cell, low] * marginal[cell, high]))
    hxy2 = 2.0 * hx  # entropy of px(i) py(j): HX + HY, and the matrix is symmetric
    size = np.maximum(matrix_size, 1).astype(np.float64)
    difference_mean = p_difference.sum(axis=1) / size
    correlation = np.ones(n_cells)
    spread = variance > 0
    correlation[spread] = (per_cell(weight * low * high)[spread] - mean[spread] ** 2) / np.sqrt(
        variance[spread]
    ) ** 2
    features = {
        "AngularSecondMoment": per_cell(cells_per_entry * probability**2),
        "Contrast": per_cell(weight * difference**2),
        "Correlation": correlation,
        "Variance": variance,
        "InverseDifferenceMoment": per_cell(weight / (1.0 + difference**2)),
        "SumAverage": sum_average,
        "SumVariance": p_sum @ sum_axis**2 - sum_average**2,
        "SumEntropy": _entropy_rows(p_sum),
        "Entropy": entropy,
        # mahotas' default: the variance of the |i - j| histogram's values, not of |i - j|
        "DifferenceVariance": (p_difference**2).sum(axis=1) / size - difference_mean**2,
        "DifferenceEntropy": _entropy_rows(p_difference),
        "InfoMeas1": np.where(hx > 0, safe_divide(entropy - hxy1, hx), entropy - hxy1),
        "InfoMeas2": np.sqrt(np.clip(1.0 - np.exp(-2.0 * (hxy2 - entropy)), 0.0, None)),
    }
    return features, pairs > 0


def _entropy_rows(probabilities: np.ndarray) -> np.ndarray:
    logs = np.log2(probabilities, out=np.zeros_like(probabilities), where=probabilities > 0)
    return -(probabilities * logs).sum(axis=1)

"""Classical per-cell features with CellProfiler's definitions: the baseline the ViT is compared to.

``measure_cells`` turns one field (C, Y, X) and its nuclei / cells label images into one row
per cell with CellProfiler's column names (``Cells_AreaShape_Area``,
``Cytoplasm_Intensity_MeanIntensity_ER``, ``Cells_Texture_Contrast_DNA_3_00_256``,
``Nuclei_Granularity_1_DNA``, ``Cells_RadialDistribution_FracAtD_DNA_1of4``,
``Cells_Correlation_Correlation_ER_Mito``, ...). Texture, Granularity and RadialDistribution
follow CellProfiler's MeasureTexture, MeasureGranularity and MeasureObjectIntensityDistribution
(as packaged by cp_measure, our test oracle); see docs/pipeline.md for what each column is.
Everything is vectorised over labels (``numpy.bincount`` / sparse products over the pixels of
a compartment); the one per-cell loop is the distance transform of each cell's bounding box.

Compartments: a cell is its label in ``cells``; its nucleus is the part of the ``nuclei``
mask inside it (so nuclei need not share the cells' label numbers); its cytoplasm is the
cell minus the nucleus. A compartment with no pixels (a cell without a nucleus), or a
measurement CellProfiler leaves undefined (NaN), measures 0, so that profiles stay numeric.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import ndimage, sparse
from scipy.sparse.csgraph import dijkstra
from skimage.measure import regionprops_table
from skimage.morphology import dilation, disk, erosion, reconstruction

from napari_phenoscope.constants import CHANNELS

COMPARTMENTS: tuple[str, ...] = ("Cells", "Nuclei", "Cytoplasm")
SHAPE_FEATURES: tuple[str, ...] = (
    "Area",
    "Perimeter",
    "FormFactor",
    "Eccentricity",
    "Solidity",
    "Extent",
    "MajorAxisLength",
    "MinorAxisLength",
    "MaxFeretDiameter",
)
INTENSITY_FEATURES: tuple[str, ...] = (
    "IntegratedIntensity",
    "MeanIntensity",
    "StdIntensity",
    "MinIntensity",
    "MaxIntensity",
    "LowerQuartileIntensity",
    "MedianIntensity",
    "UpperQuartileIntensity",
    "MADIntensity",
)
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
RADIAL_FEATURES: tuple[str, ...] = ("FracAtD", "MeanFrac", "RadialCV")
TEXTURE_COMPARTMENTS: tuple[str, ...] = ("Cells", "Nuclei", "Cytoplasm")
GRANULARITY_COMPARTMENTS: tuple[str, ...] = ("Cells", "Nuclei", "Cytoplasm")
RADIAL_COMPARTMENTS: tuple[str, ...] = ("Cells",)
_SKIMAGE_SHAPE = {
    "Area": "area",
    "Perimeter": "perimeter",
    "Eccentricity": "eccentricity",
    "Solidity": "solidity",
    "Extent": "extent",
    "MajorAxisLength": "axis_major_length",
    "MinorAxisLength": "axis_minor_length",
    "MaxFeretDiameter": "feret_diameter_max",
}
_QUANTILE_BINS = 1024  # per-cell histogram resolution of the quartiles (error < range/2048)


def classical_feature_names(
    channels: Sequence[str] = CHANNELS,
    texture_scales: Sequence[int] = (3,),
    texture_levels: int = 256,
    granularity_scales: int = 16,
    radial_bins: int = 4,
) -> list[str]:
    """Return the feature columns ``measure_cells`` writes, in its order.

    Examples
    --------
    >>> names = classical_feature_names(("DNA", "ER"))
    >>> "Cells_Correlation_Correlation_DNA_ER" in names
    True
    >>> "Nuclei_Texture_DifferenceVariance_ER_3_03_256" in names
    True
    """
    names: list[str] = []
    for compartment in COMPARTMENTS:
        shape = SHAPE_FEATURES if compartment != "Cytoplasm" else ("Area",)
        names += [f"{compartment}_AreaShape_{feature}" for feature in shape]
        for channel in channels:
            names += [f"{compartment}_Intensity_{f}_{channel}" for f in INTENSITY_FEATURES]
        names += [
            f"{compartment}_Correlation_Correlation_{_pair_name(first, second)}"
            for first, second in combinations(channels, 2)
        ]
    for compartment in TEXTURE_COMPARTMENTS:
        for channel in channels:
            names += [
                f"{compartment}_Texture_{feature}_{channel}_{scale}_{direction:02d}_{texture_levels}"
                for scale in texture_scales
                for direction in range(len(TEXTURE_DIRECTIONS))
                for feature in HARALICK_FEATURES
            ]
    for compartment in GRANULARITY_COMPARTMENTS:
        for channel in channels:
            names += [
                f"{compartment}_Granularity_{scale}_{channel}"
                for scale in range(1, granularity_scales + 1)
            ]
    for compartment in RADIAL_COMPARTMENTS:
        for channel in channels:
            names += [
                f"{compartment}_RadialDistribution_{feature}_{channel}_{ring}of{radial_bins}"
                for feature in RADIAL_FEATURES
                for ring in range(1, radial_bins + 1)
            ]
    return names


def _pair_name(first: str, second: str) -> str:
    """A channel pair as CellProfiler names it in the CPJUMP1 / JUMP outputs: sorted."""
    return "_".join(sorted((first, second)))


def measure_cells(
    image: np.ndarray,
    nuclei: np.ndarray,
    cells: np.ndarray,
    channels: Sequence[str] = CHANNELS,
    texture_scales: Sequence[int] = (3,),
    texture_levels: int = 256,
    granularity_scales: int = 16,
    radial_bins: int = 4,
) -> pd.DataFrame:
    """Measure shape, intensity, correlation, texture, granularity and radial distribution.

    Parameters
    ----------
    image
        (C, Y, X) field; integer images are scaled to [0, 1] by their dtype's maximum
        (CellProfiler's convention), float images are used as they are.
    nuclei, cells
        (Y, X) integer label images (0 is background).
    channels
        Channel names of the C planes of ``image``, used in the column names.
    texture_scales
        Pixel offsets of the grey-level co-occurrence matrices (CellProfiler's texture
        scales; the JUMP pipelines use 3, 5 and 10). Each scale gives 4 directions.
    texture_levels
        Grey levels of the whole image (CellProfiler 3+: 256), not of each cell's range.
    granularity_scales
        Length of CellProfiler's granular spectrum (16).
    radial_bins
        Rings between each object's centre (0) and its edge (1).

    Returns
    -------
    pandas.DataFrame
        One row per label of ``cells`` (sorted), a ``label`` column and the columns of
        ``classical_feature_names``.

    Examples
    --------
    >>> yy, xx = np.mgrid[:32, :32]
    >>> cells = ((yy - 16) ** 2 + (xx - 16) ** 2 <= 100).astype(np.int32)
    >>> nuclei = ((yy - 16) ** 2 + (xx - 16) ** 2 <= 16).astype(np.int32)
    >>> image = np.full((2, 32, 32), 100, np.uint16)
    >>> table = measure_cells(image, nuclei, cells, channels=("DNA", "ER"))
    >>> int(table.loc[0, "Cells_AreaShape_Area"])
    317
    """
    image, nuclei, cells = _check_inputs(image, nuclei, cells, channels)
    names = classical_feature_names(
        channels, texture_scales, texture_levels, granularity_scales, radial_bins
    )
    labels = np.unique(cells[cells > 0])
    if labels.size == 0:
        return pd.DataFrame({"label": pd.Series(dtype=np.int64), **{n: [] for n in names}})
    # Dense index 1..n per cell so that every per-label array is a plain bincount.
    lookup = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    lookup[labels] = np.arange(1, labels.size + 1)
    cell_index = lookup[cells]
    compartments = {
        "Cells": cell_index,
        "Nuclei": np.where(nuclei > 0, cell_index, 0),
        "Cytoplasm": np.where(nuclei > 0, 0, cell_index),
    }
    n_cells = labels.size
    columns: dict[str, np.ndarray] = {}
    for compartment, index in compartments.items():
        columns.update(_shape(index, n_cells, compartment))
        columns.update(_intensity(image, index, n_cells, compartment, channels))
        columns.update(_correlation(image, index, n_cells, compartment, channels))
    grey = grey_levels(image, texture_levels)
    for compartment in TEXTURE_COMPARTMENTS:
        for channel, values in _texture(
            grey, compartments[compartment], n_cells, channels, texture_scales, texture_levels
        ).items():
            columns[f"{compartment}_Texture_{channel}"] = values
    granularity = _granularity(
        image, [compartments[c] for c in GRANULARITY_COMPARTMENTS], n_cells, granularity_scales
    )
    for position, channel in enumerate(channels):
        for k, compartment in enumerate(GRANULARITY_COMPARTMENTS):
            for scale in range(granularity_scales):
                columns[f"{compartment}_Granularity_{scale + 1}_{channel}"] = granularity[
                    position, k, scale
                ]
    for compartment in RADIAL_COMPARTMENTS:
        for name, values in _radial(
            image, compartments[compartment], n_cells, channels, radial_bins
        ).items():
            columns[f"{compartment}_RadialDistribution_{name}"] = values
    table = pd.DataFrame(columns)[names]
    table.insert(0, "label", labels.astype(np.int64))
    return table


def _check_inputs(
    image: np.ndarray, nuclei: np.ndarray, cells: np.ndarray, channels: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must be (C, Y, X); got shape {image.shape}")
    if len(channels) != image.shape[0]:
        raise ValueError(f"{image.shape[0]} image planes but {len(channels)} channel names")
    for name, labels in (("nuclei", nuclei), ("cells", cells)):
        if np.shape(labels) != image.shape[1:]:
            raise ValueError(f"{name} shape {np.shape(labels)} != image shape {image.shape[1:]}")
        if not np.issubdtype(np.asarray(labels).dtype, np.integer):
            raise ValueError(f"{name} must be an integer label image")
    if np.issubdtype(image.dtype, np.integer):
        scaled = image.astype(np.float64) / float(np.iinfo(image.dtype).max)
    else:
        scaled = image.astype(np.float64)
    return scaled, np.asarray(nuclei), np.asarray(cells)


def _per_label_sum(index: np.ndarray, weights: np.ndarray | None, n_cells: int) -> np.ndarray:
    """Sum of ``weights`` (or pixel count) per label 1..n of a dense label image."""
    return np.bincount(
        index.ravel(), weights=None if weights is None else weights.ravel(), minlength=n_cells + 1
    )[1:]


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(numerator, denominator).shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _shape(index: np.ndarray, n_cells: int, compartment: str) -> dict[str, np.ndarray]:
    if compartment == "Cytoplasm":
        return {f"{compartment}_AreaShape_Area": _per_label_sum(index, None, n_cells)}
    table = regionprops_table(index, properties=("label", *_SKIMAGE_SHAPE.values()))
    rows = np.asarray(table["label"]) - 1
    columns = {}
    for feature, prop in _SKIMAGE_SHAPE.items():
        values = np.zeros(n_cells)
        values[rows] = np.nan_to_num(np.asarray(table[prop], dtype=np.float64))
        columns[f"{compartment}_AreaShape_{feature}"] = values
    perimeter = columns[f"{compartment}_AreaShape_Perimeter"]
    area = columns[f"{compartment}_AreaShape_Area"]
    columns[f"{compartment}_AreaShape_FormFactor"] = _safe_divide(4 * np.pi * area, perimeter**2)
    return columns


def _intensity(
    image: np.ndarray,
    index: np.ndarray,
    n_cells: int,
    compartment: str,
    channels: Sequence[str],
) -> dict[str, np.ndarray]:
    inside = index > 0
    pixels = pd.DataFrame(image[:, inside].T, columns=list(channels))
    pixels["label"] = index[inside]
    grouped = pixels.groupby("label", sort=True)
    stats = {
        "IntegratedIntensity": grouped.sum(),
        "MeanIntensity": grouped.mean(),
        "StdIntensity": grouped.std(ddof=0),
        "MinIntensity": grouped.min(),
        "MaxIntensity": grouped.max(),
    }
    rows = stats["MeanIntensity"].index.to_numpy() - 1
    quartiles = _histogram_quantiles(
        pixels, stats["MinIntensity"], stats["MaxIntensity"], n_cells, channels
    )
    columns = {}
    for channel in channels:
        for feature in INTENSITY_FEATURES:
            values = np.zeros(n_cells)
            if feature in stats:
                values[rows] = stats[feature][channel].to_numpy()
            else:
                values = quartiles[feature][channel]
            columns[f"{compartment}_Intensity_{feature}_{channel}"] = values
    return columns


def _histogram_quantiles(
    pixels: pd.DataFrame,
    minimum: pd.DataFrame,
    maximum: pd.DataFrame,
    n_cells: int,
    channels: Sequence[str],
) -> dict[str, dict[str, np.ndarray]]:
    """Quartiles, median and MAD per label from per-cell histograms (no per-cell sort).

    Each cell's range is cut into ``_QUANTILE_BINS`` bins, so a quantile is exact to within
    range / 2048: far below the noise of any profile, at a tenth of the cost of sorting.
    """
    out: dict[str, dict[str, np.ndarray]] = {name: {} for name in _QUANTILES} | {"MADIntensity": {}}
    labels = pixels["label"].to_numpy()
    for channel in channels:
        low = np.zeros(n_cells + 1)
        high = np.zeros(n_cells + 1)
        low[minimum.index] = minimum[channel].to_numpy()
        high[maximum.index] = maximum[channel].to_numpy()
        values = pixels[channel].to_numpy()
        levels = _binned_quantiles(values - low[labels], high - low, labels, n_cells)
        for name, level in levels.items():
            out[name][channel] = np.where(high[1:] > low[1:], low[1:] + level, low[1:])
        deviation = np.abs(values - out["MedianIntensity"][channel][labels - 1])
        spread = np.zeros(n_cells + 1)
        np.maximum.at(spread, labels, deviation)
        out["MADIntensity"][channel] = _binned_quantiles(deviation, spread, labels, n_cells)[
            "MedianIntensity"
        ]
    return out


_QUANTILES = {
    "LowerQuartileIntensity": 0.25,
    "MedianIntensity": 0.5,
    "UpperQuartileIntensity": 0.75,
}


def _binned_quantiles(
    offsets: np.ndarray, width: np.ndarray, labels: np.ndarray, n_cells: int
) -> dict[str, np.ndarray]:
    """Quantiles of non-negative ``offsets`` per label, each label's range being ``width``."""
    bins = _QUANTILE_BINS
    relative = _safe_divide(offsets, width[labels])
    bin_of = np.minimum((relative * bins).astype(np.int64), bins - 1)
    counts = np.bincount(labels * bins + bin_of, minlength=(n_cells + 1) * bins)
    cdf = np.cumsum(counts.reshape(n_cells + 1, bins), axis=1)[1:]
    total = cdf[:, -1:]
    centres = (np.arange(bins) + 0.5) / bins
    levels = {}
    for name, q in _QUANTILES.items():
        first = np.argmax(cdf >= q * total, axis=1)
        levels[name] = np.where(total[:, 0] > 0, centres[first] * width[1:], 0.0)
    return levels


def _correlation(
    image: np.ndarray,
    index: np.ndarray,
    n_cells: int,
    compartment: str,
    channels: Sequence[str],
) -> dict[str, np.ndarray]:
    """Pearson correlation of every channel pair over each label's pixels."""
    inside = index > 0
    labels = index[inside]
    planes = image[:, inside]
    count = _per_label_sum(labels, None, n_cells)
    means = [_safe_divide(_per_label_sum(labels, plane, n_cells), count) for plane in planes]
    centred = [plane - mean[labels - 1] for plane, mean in zip(planes, means, strict=True)]
    square = [_per_label_sum(labels, c * c, n_cells) for c in centred]
    columns = {}
    for (i, first), (j, second) in combinations(enumerate(channels), 2):
        cross = _per_label_sum(labels, centred[i] * centred[j], n_cells)
        columns[f"{compartment}_Correlation_Correlation_{_pair_name(first, second)}"] = (
            _safe_divide(cross, np.sqrt(square[i] * square[j]))
        )
    return columns


# --------------------------------------------------------------------------------------------
# Texture: CellProfiler's MeasureTexture (Haralick features of mahotas' co-occurrence matrices)
# --------------------------------------------------------------------------------------------


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
    grey = np.rint(np.clip(image, 0.0, 1.0) * 255.0)
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


def _texture(
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
        "InfoMeas1": np.where(hx > 0, _safe_divide(entropy - hxy1, hx), entropy - hxy1),
        "InfoMeas2": np.sqrt(np.clip(1.0 - np.exp(-2.0 * (hxy2 - entropy)), 0.0, None)),
    }
    return features, pairs > 0


def _entropy_rows(probabilities: np.ndarray) -> np.ndarray:
    logs = np.log2(probabilities, out=np.zeros_like(probabilities), where=probabilities > 0)
    return -(probabilities * logs).sum(axis=1)


# --------------------------------------------------------------------------------------------
# Granularity: CellProfiler's MeasureGranularity
# --------------------------------------------------------------------------------------------


def _granularity(
    image: np.ndarray,
    indexes: Sequence[np.ndarray],
    n_cells: int,
    scales: int,
    subsample: float = 0.25,
    background_subsample: float = 0.25,
    element_size: int = 10,
) -> np.ndarray:
    """CellProfiler's granular spectrum of every label of each dense label image.

    Per channel, as MeasureGranularity: subsample the image (bilinear, ``subsample``), remove
    its background (an opening by a disk of ``element_size`` on a further
    ``background_subsample`` subsampling, interpolated back), then erode by a 3x3 cross and
    reconstruct ``scales`` times. Scale k is the drop of each object's mean (measured at full
    resolution, on the reconstruction interpolated back) between steps k - 1 and k, in % of
    the object's mean in the original image. Returns (C, len(indexes), scales, n_cells).
    """
    n_channels = image.shape[0]
    spectrum = np.zeros((n_channels, len(indexes), scales, n_cells))
    shape = np.array(image.shape[1:])
    small_shape = (shape * subsample).astype(int) if subsample < 1 else shape
    if (small_shape < 2).any():  # too small to interpolate: CellProfiler gives NaN
        return spectrum
    rows, cols = np.mgrid[0 : small_shape[0], 0 : small_shape[1]].astype(float)
    if subsample < 1:
        small_grid = (rows / subsample, cols / subsample)
    operators, counts = zip(
        *[_upsampled_mean_operator(index, n_cells, shape, small_shape) for index in indexes],
        strict=True,
    )
    stacked = sparse.vstack(operators).tocsr()
    counts = np.concatenate(counts)
    footprint, cross = disk(element_size, dtype=bool), disk(1, dtype=bool)
    for position in range(n_channels):
        if subsample < 1:
            small = ndimage.map_coordinates(image[position], small_grid, order=1)
        else:
            small = image[position].copy()
        small -= _background(small, small_shape, background_subsample, footprint)
        small[small < 0] = 0
        start_mean = np.concatenate(
            [
                _safe_divide(_per_label_sum(index, image[position], n_cells), count)
                for index, count in zip(indexes, np.split(counts, len(indexes)), strict=True)
            ]
        )
        current = start_mean
        for scale, reconstructed in enumerate(_openings_by_reconstruction(small, scales, cross)):
            new = _safe_divide(stacked @ reconstructed.ravel(), counts)
            spectrum[position, :, scale] = _safe_divide(
                (current - new) * 100.0, np.maximum(start_mean, np.finfo(float).eps)
            ).reshape(len(indexes), n_cells)
            current = new
    return spectrum


def _background(
    small: np.ndarray, small_shape: np.ndarray, sample: float, footprint: np.ndarray
) -> np.ndarray:
    """MeasureGranularity's background: an opening of a subsampled copy, interpolated back."""
    if sample >= 1:
        return dilation(erosion(small, footprint), footprint)
    back_shape = small_shape * sample
    rows, cols = np.mgrid[0 : back_shape[0], 0 : back_shape[1]].astype(float)
    back = ndimage.map_coordinates(small, (rows / sample, cols / sample), order=1)
    back = dilation(erosion(back, footprint), footprint)
    rows, cols = np.mgrid[0 : small_shape[0], 0 : small_shape[1]].astype(float)
    rows *= (back_shape[0] - 1) / (small_shape[0] - 1)
    cols *= (back_shape[1] - 1) / (small_shape[1] - 1)
    return ndimage.map_coordinates(back, (rows, cols), order=1)


def _upsampled_mean_operator(
    index: np.ndarray, n_cells: int, shape: np.ndarray, small_shape: np.ndarray
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Sparse (n_cells, small pixels) map: bilinear upsampling, then each label's pixel sum.

    With the label's pixel count, ``operator @ small.ravel() / count`` is the label's mean of
    the small image interpolated back to full resolution (MeasureGranularity's per-object
    mean), without ever building the full-resolution image.
    """
    rows, cols = np.nonzero(index)
    labels = index[rows, cols] - 1
    rows = rows * (float(small_shape[0] - 1) / float(shape[0] - 1))
    cols = cols * (float(small_shape[1] - 1) / float(shape[1] - 1))
    counts = np.bincount(labels, minlength=n_cells).astype(np.float64)
    # map_coordinates gives 0 just past the last row/column (float rounding): so do we
    valid = (rows <= small_shape[0] - 1) & (cols <= small_shape[1] - 1)
    labels, rows, cols = labels[valid], rows[valid], cols[valid]
    top, left = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    down, right = rows - top, cols - left
    corner_weights = (
        (1 - down) * (1 - right),
        (1 - down) * right,
        down * (1 - right),
        down * right,
    )
    # ~1/subsample^2 pixels of a label share each small-image cell: sum their weights first
    height, width = int(small_shape[0]), int(small_shape[1])
    cells, entry = np.unique(labels * (height * width) + top * width + left, return_inverse=True)
    weights = np.concatenate([np.bincount(entry, weights=w) for w in corner_weights])
    labels, cells = cells // (height * width), cells % (height * width)
    top, left = cells // width, cells % width
    bottom, next_col = np.minimum(top + 1, height - 1), np.minimum(left + 1, width - 1)
    neighbours = np.concatenate(
        [
            top * width + left,
            top * width + next_col,
            bottom * width + left,
            bottom * width + next_col,
        ]
    )
    operator = sparse.csr_matrix(
        (weights, (np.tile(labels, 4), neighbours)), shape=(n_cells, height * width)
    )
    return operator, counts


def _openings_by_reconstruction(small: np.ndarray, scales: int, cross: np.ndarray):
    """Yield, for k = 1 .. scales, the reconstruction of ``small`` from its k-th erosion.

    Grey-level reconstruction only compares values, so it runs on the ranks of ``small``'s
    distinct values: erosions then need no sort, and every reconstruction reuses one
    ranking instead of sorting seed and mask again (skimage's ``reconstruction`` does).
    """
    values, ranks = np.unique(small, return_inverse=True)
    ranks = ranks.reshape(small.shape)
    seed = ranks
    for _ in range(scales):
        seed = erosion(seed, cross)
        yield values[_reconstruct_ranks(seed, ranks, cross)]


def _reconstruct_ranks(seed: np.ndarray, mask: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """Reconstruction by dilation of integer rank images (``seed <= mask``), 4-connected."""
    try:
        from skimage.morphology._grayreconstruct import reconstruction_loop
    except ImportError:  # private API: fall back to the public function (sorts twice per call)
        return reconstruction(seed, mask, footprint=cross).astype(np.int64)
    height, width = seed.shape
    padded = (height + 2, width + 2)
    images = np.full((2, *padded), seed.min(), dtype=np.uint32)
    images[0, 1:-1, 1:-1] = seed
    images[1, 1:-1, 1:-1] = mask
    ranks = images.reshape(-1)
    index_dtype = np.int32 if ranks.size < 2**31 else np.int64
    # radix sort when the ranks fit 16 bits (a few thousand distinct values is typical)
    keys = ranks.astype(np.uint16) if ranks.max() < 2**16 else ranks
    order = np.argsort(keys, kind="stable").astype(index_dtype)[::-1]
    previous = np.full(ranks.size, -1, index_dtype)
    following = np.full(ranks.size, -1, index_dtype)
    previous[order[1:]] = order[:-1]
    following[order[:-1]] = order[1:]
    strides = np.array([-padded[1], -1, 1, padded[1]], index_dtype)
    value_ranks = ranks.astype(np.uint32 if index_dtype is np.int32 else np.uint64)
    image_stride = index_dtype(padded[0] * padded[1])
    reconstruction_loop(value_ranks, previous, following, strides, order[0], image_stride)
    return value_ranks[:image_stride].reshape(padded)[1:-1, 1:-1].astype(np.int64)


# --------------------------------------------------------------------------------------------
# RadialDistribution: CellProfiler's MeasureObjectIntensityDistribution, centre "these objects"
# --------------------------------------------------------------------------------------------

# 8-neighbour offsets in increasing flat order (so each CSR row's columns come sorted)
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _radial(
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
    pixel_fraction = _safe_divide(ring_pixels, ring_pixels.sum(axis=1, keepdims=True))
    wedge_pixels = np.bincount(wedge_code, minlength=n_cells * bins * 8).reshape(-1, 8)
    occupied = wedge_pixels > 0
    columns = {}
    for position, channel in enumerate(channels):
        values = image[position][reached]
        per_ring = np.bincount(ring_code, weights=values, minlength=n_cells * bins)
        per_ring = per_ring.reshape(n_cells, bins)
        fraction = _safe_divide(per_ring, per_ring.sum(axis=1, keepdims=True))
        mean_fraction = fraction / (pixel_fraction + np.finfo(float).eps)
        wedge_sums = np.bincount(wedge_code, weights=values, minlength=n_cells * bins * 8)
        wedge_means = _safe_divide(wedge_sums.reshape(-1, 8), wedge_pixels)
        n_wedges = occupied.sum(axis=1)
        mean = _safe_divide(wedge_means.sum(axis=1), n_wedges)
        spread = np.sqrt(
            _safe_divide((occupied * (wedge_means - mean[:, None]) ** 2).sum(axis=1), n_wedges)
        )
        radial_cv = _safe_divide(spread, mean).reshape(n_cells, bins)
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

"""Classical, CellProfiler-like per-cell features: the baseline the ViT is compared to.

``measure_cells`` turns one field (C, Y, X) and its nuclei / cells label images into one row
per cell with CellProfiler-style column names (``Cells_AreaShape_Area``,
``Cytoplasm_Intensity_MeanIntensity_ER``, ``Cells_Texture_Contrast_DNA_3``,
``Cells_Correlation_Correlation_ER_Mito``, ...). Everything is vectorised over labels
(``numpy.bincount`` / pandas group-bys over the pixels of a compartment), so a field of a
hundred cells takes a fraction of a second; there is no per-cell Python loop.

Compartments: a cell is its label in ``cells``; its nucleus is the part of the ``nuclei``
mask inside it (so nuclei need not share the cells' label numbers); its cytoplasm is the
cell minus the nucleus. A compartment with no pixels (a cell without a nucleus) measures 0,
never NaN, so that profiles stay numeric.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import ndimage
from skimage.measure import regionprops_table
from skimage.segmentation import find_boundaries

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
TEXTURE_COMPARTMENTS: tuple[str, ...] = ("Cells", "Nuclei")
GRANULARITY_COMPARTMENTS: tuple[str, ...] = ("Cells", "Nuclei")
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
    texture_distance: int = 3,
    granularity_scales: int = 4,
    radial_bins: int = 4,
) -> list[str]:
    """Return the feature columns ``measure_cells`` writes, in its order.

    Examples
    --------
    >>> names = classical_feature_names(("DNA", "ER"))
    >>> "Cells_Correlation_Correlation_DNA_ER" in names
    True
    """
    names: list[str] = []
    for compartment in COMPARTMENTS:
        shape = SHAPE_FEATURES if compartment != "Cytoplasm" else ("Area",)
        names += [f"{compartment}_AreaShape_{feature}" for feature in shape]
        for channel in channels:
            names += [f"{compartment}_Intensity_{f}_{channel}" for f in INTENSITY_FEATURES]
        names += [
            f"{compartment}_Correlation_Correlation_{first}_{second}"
            for first, second in combinations(channels, 2)
        ]
    for compartment in TEXTURE_COMPARTMENTS:
        for channel in channels:
            names += [
                f"{compartment}_Texture_{f}_{channel}_{texture_distance}" for f in HARALICK_FEATURES
            ]
    for compartment in GRANULARITY_COMPARTMENTS:
        for channel in channels:
            names += [
                f"{compartment}_Granularity_{scale}_{channel}"
                for scale in range(1, granularity_scales + 1)
            ]
    for channel in channels:
        names += [
            f"Cells_RadialDistribution_FracAtD_{channel}_{ring}of{radial_bins}"
            for ring in range(1, radial_bins + 1)
        ]
    return names


def measure_cells(
    image: np.ndarray,
    nuclei: np.ndarray,
    cells: np.ndarray,
    channels: Sequence[str] = CHANNELS,
    texture_distance: int = 3,
    texture_levels: int = 8,
    granularity_scales: int = 4,
    radial_bins: int = 4,
) -> pd.DataFrame:
    """Measure shape, intensity, texture, granularity and correlation of every cell.

    Parameters
    ----------
    image
        (C, Y, X) field; integer images are scaled to [0, 1] by their dtype's maximum
        (CellProfiler's convention), float images are used as they are.
    nuclei, cells
        (Y, X) integer label images (0 is background).
    channels
        Channel names of the C planes of ``image``, used in the column names.
    texture_distance
        Pixel offset of the grey-level co-occurrence matrices (averaged over 4 angles).
    texture_levels
        Grey levels a cell is quantised to (between its own minimum and maximum).
    granularity_scales
        Number of granular-spectrum scales (openings of size 3, 5, 7, ...).
    radial_bins
        Rings between the nucleus centre (0) and the cell edge (1).

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
    names = classical_feature_names(channels, texture_distance, granularity_scales, radial_bins)
    labels = np.unique(cells[cells > 0])
    if labels.size == 0:
        return pd.DataFrame({"label": pd.Series(dtype=np.int64), **{n: [] for n in names}})
    # Dense index 1..n per cell so that every per-label array is a plain bincount.
    lookup = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    lookup[labels] = np.arange(1, labels.size + 1)
    cell_index = lookup[cells]
    nucleus_index = np.where(nuclei > 0, cell_index, 0)
    compartments = {
        "Cells": cell_index,
        "Nuclei": nucleus_index,
        "Cytoplasm": np.where(nuclei > 0, 0, cell_index),
    }
    n_cells = labels.size
    columns: dict[str, np.ndarray] = {}
    for compartment, index in compartments.items():
        columns.update(_shape(index, n_cells, compartment))
        columns.update(_intensity(image, index, n_cells, compartment, channels))
        columns.update(_correlation(image, index, n_cells, compartment, channels))
    for compartment in TEXTURE_COMPARTMENTS:
        index = compartments[compartment]
        columns.update(
            _texture(image, index, n_cells, compartment, channels, texture_distance, texture_levels)
        )
    columns.update(_granularity(image, compartments, n_cells, channels, granularity_scales))
    columns.update(_radial(image, cell_index, nucleus_index, n_cells, channels, radial_bins))
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
        columns[f"{compartment}_Correlation_Correlation_{first}_{second}"] = _safe_divide(
            cross, np.sqrt(square[i] * square[j])
        )
    return columns


def _pair_views(array: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """The two (Y - dy, X - |dx|) views of pixel pairs ``(y, x)`` and ``(y + dy, x + dx)``."""
    height, width = array.shape
    if dx >= 0:
        first_x, second_x = slice(0, width - dx), slice(dx, width)
    else:
        first_x, second_x = slice(-dx, width), slice(0, width + dx)
    return array[0 : height - dy, first_x], array[dy:height, second_x]


def _texture(
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
        relative = _safe_divide(image[position][inside] - minimum[labels], width[labels])
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
    p = _safe_divide(counts, total)
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
        "Correlation": _safe_divide((p * i * j).sum(axis=(-2, -1)) - mu_x * mu_y, sd_x * sd_y),
        "Variance": (p * (i - mu_x[..., None, None]) ** 2).sum(axis=(-2, -1)),
        "InverseDifferenceMoment": (p / (1.0 + (i - j) ** 2)).sum(axis=(-2, -1)),
        "SumAverage": sum_average,
        "SumVariance": (p_sum * (k_sum - sum_average[..., None]) ** 2).sum(-1),
        "SumEntropy": _entropy(p_sum, (-1,)),
        "Entropy": entropy,
        "DifferenceVariance": (p_diff * (k_diff - diff_mean[..., None]) ** 2).sum(-1),
        "DifferenceEntropy": _entropy(p_diff, (-1,)),
        "InfoMeas1": _safe_divide(entropy - hxy1, np.maximum(hx, hy)),
        "InfoMeas2": np.sqrt(np.clip(1.0 - np.exp(-2.0 * (hxy2 - entropy)), 0.0, None)),
    }


def _granularity(
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
            name: _per_label_sum(labels[name], previous[inside[name]], n_cells)
            for name in GRANULARITY_COMPARTMENTS
        }
        previous_sums = dict(totals)
        for scale in range(1, scales + 1):
            opened = ndimage.grey_opening(previous, size=(2 * scale + 1, 2 * scale + 1))
            for name in GRANULARITY_COMPARTMENTS:
                current = _per_label_sum(labels[name], opened[inside[name]], n_cells)
                columns[f"{name}_Granularity_{scale}_{channel}"] = 100.0 * _safe_divide(
                    previous_sums[name] - current, totals[name]
                )
                previous_sums[name] = current
            previous = opened
    return columns


def _radial(
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
        area = _per_label_sum(index, None, n_cells)
        centres.append(
            (
                _safe_divide(_per_label_sum(index, yy, n_cells), area),
                _safe_divide(_per_label_sum(index, xx, n_cells), area),
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
    radius = _safe_divide(to_centre, to_centre + to_edge)
    ring = np.minimum((radius * bins).astype(np.int64), bins - 1)
    code = labels * bins + ring
    columns = {}
    for position, channel in enumerate(channels):
        values = image[position][inside]
        per_ring = np.bincount(code, weights=values, minlength=n_cells * bins)
        per_ring = per_ring.reshape(n_cells, bins)
        fractions = _safe_divide(per_ring, per_ring.sum(axis=1, keepdims=True))
        for ring_number in range(bins):
            name = f"Cells_RadialDistribution_FracAtD_{channel}_{ring_number + 1}of{bins}"
            columns[name] = fractions[:, ring_number]
    return columns

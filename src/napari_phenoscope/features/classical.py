"""Classical per-cell features with CellProfiler's definitions: the baseline the ViT is compared to.

``measure_cells`` turns one field (C, Y, X) and its nuclei / cells label images into one row
per cell with CellProfiler's column names (``Cells_AreaShape_Area``,
``Cytoplasm_Intensity_MeanIntensity_ER``, ``Cells_Texture_Contrast_DNA_3_00_256``,
``Nuclei_Granularity_1_DNA``, ``Cells_RadialDistribution_FracAtD_DNA_1of4``,
``Cells_Correlation_Correlation_ER_Mito``, ...). Texture, Granularity and RadialDistribution
follow CellProfiler's MeasureTexture, MeasureGranularity and MeasureObjectIntensityDistribution
(as packaged by cp_measure, our test oracle) in ``texture``, ``granularity`` and ``radial``;
see docs/pipeline.md for what each column is.
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
from skimage.measure import regionprops_table

from napari_phenoscope.constants import CHANNELS, LABEL
from napari_phenoscope.features._labels import per_label_sum, safe_divide
from napari_phenoscope.features.granularity import granular_spectrum
from napari_phenoscope.features.radial import RADIAL_FEATURES, radial_distribution
from napari_phenoscope.features.texture import (
    HARALICK_FEATURES,
    TEXTURE_DIRECTIONS,
    grey_levels,
    haralick_features,
)

# Recorded in the pipeline's field caches: bump it whenever a classical definition changes,
# so that fields measured with the old definitions are recomputed, never mixed in.
CLASSICAL_DEFINITIONS = "cellprofiler-4"
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
        return pd.DataFrame({LABEL: pd.Series(dtype=np.int64), **{n: [] for n in names}})
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
        for channel, values in haralick_features(
            grey, compartments[compartment], n_cells, channels, texture_scales, texture_levels
        ).items():
            columns[f"{compartment}_Texture_{channel}"] = values
    granularity = granular_spectrum(
        image, [compartments[c] for c in GRANULARITY_COMPARTMENTS], n_cells, granularity_scales
    )
    for position, channel in enumerate(channels):
        for k, compartment in enumerate(GRANULARITY_COMPARTMENTS):
            for scale in range(granularity_scales):
                columns[f"{compartment}_Granularity_{scale + 1}_{channel}"] = granularity[
                    position, k, scale
                ]
    for compartment in RADIAL_COMPARTMENTS:
        for name, values in radial_distribution(
            image, compartments[compartment], n_cells, channels, radial_bins
        ).items():
            columns[f"{compartment}_RadialDistribution_{name}"] = values
    table = pd.DataFrame(columns)[names]
    table.insert(0, LABEL, labels.astype(np.int64))
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


def _shape(index: np.ndarray, n_cells: int, compartment: str) -> dict[str, np.ndarray]:
    if compartment == "Cytoplasm":
        return {f"{compartment}_AreaShape_Area": per_label_sum(index, None, n_cells)}
    table = regionprops_table(index, properties=("label", *_SKIMAGE_SHAPE.values()))
    rows = np.asarray(table["label"]) - 1
    columns = {}
    for feature, prop in _SKIMAGE_SHAPE.items():
        values = np.zeros(n_cells)
        values[rows] = np.nan_to_num(np.asarray(table[prop], dtype=np.float64))
        columns[f"{compartment}_AreaShape_{feature}"] = values
    perimeter = columns[f"{compartment}_AreaShape_Perimeter"]
    area = columns[f"{compartment}_AreaShape_Area"]
    columns[f"{compartment}_AreaShape_FormFactor"] = safe_divide(4 * np.pi * area, perimeter**2)
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
    relative = safe_divide(offsets, width[labels])
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
    count = per_label_sum(labels, None, n_cells)
    means = [safe_divide(per_label_sum(labels, plane, n_cells), count) for plane in planes]
    centred = [plane - mean[labels - 1] for plane, mean in zip(planes, means, strict=True)]
    square = [per_label_sum(labels, c * c, n_cells) for c in centred]
    columns = {}
    for (i, first), (j, second) in combinations(enumerate(channels), 2):
        cross = per_label_sum(labels, centred[i] * centred[j], n_cells)
        columns[f"{compartment}_Correlation_Correlation_{_pair_name(first, second)}"] = safe_divide(
            cross, np.sqrt(square[i] * square[j])
        )
    return columns

"""Image-quality measures of one field, with CellProfiler MeasureImageQuality names.

Every measure is computed per channel on the raw plane (``ImageQuality_<Measure>_<CH>``),
as CellProfiler advises ("apply to the original raw images, not illumination corrected"):

- ``PowerLogLogSlope``: slope of log(radial power) against log(spatial frequency), radii 2
  up to an eighth of the field's side, the plane scaled by its mean absolute deviation
  from the mean (intensity invariant). Defocus removes high frequencies: the slope falls
  (more negative). CellProfiler's ``centrosome.radial_power_spectrum.rps`` definition.
- ``PercentMaximal`` / ``PercentMinimal``: percent of pixels at the plane's own maximum
  (saturated debris) / minimum value.
- ``FocusScore``: normalised variance, var / mean of intensities in 0..1 (CellProfiler reads
  a uint16 plane divided by 65535).
- ``MeanIntensity``, ``MedianIntensity``, ``StdIntensity``, ``MADIntensity`` (median absolute
  deviation from the median), intensities in 0..1: brightness and background.

and ``Count_Cells``, the field's cell count after segmentation.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from napari_phenoscope.constants import CHANNELS

IMAGE_QUALITY = "ImageQuality"
CELL_COUNT = "Count_Cells"
#: The per-channel measures, in the order of the columns of ``qc_fields.csv``.
CHANNEL_MEASURES: tuple[str, ...] = (
    "PowerLogLogSlope",
    "PercentMaximal",
    "PercentMinimal",
    "FocusScore",
    "MeanIntensity",
    "MedianIntensity",
    "StdIntensity",
    "MADIntensity",
)


def measure_name(measure: str, channel: str) -> str:
    """``("PowerLogLogSlope", "DNA")`` -> ``"ImageQuality_PowerLogLogSlope_DNA"``."""
    return f"{IMAGE_QUALITY}_{measure}_{channel}"


def field_measure_names(channels: Sequence[str] = CHANNELS) -> list[str]:
    """Columns that ``measure_field_quality`` returns, in order."""
    return [measure_name(m, c) for m in CHANNEL_MEASURES for c in channels] + [CELL_COUNT]


@functools.lru_cache(maxsize=8)
def _ring_of_each_frequency(rows: int, cols: int) -> np.ndarray:
    """Ring number (floor of the radius, + 1) of each FFT frequency, with wrap-around."""
    y = np.arange(rows)
    x = np.arange(cols)
    y = np.minimum(y, rows - y)  # distance from the nearest zero-frequency corner
    x = np.minimum(x, cols - x)
    rings = np.floor(np.sqrt(y[:, None] ** 2 + x[None, :] ** 2)).astype(np.int64) + 1
    rings.flags.writeable = False
    return rings


def radial_power_spectrum(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radii (2 .. side / 8) and the summed power of the plane's spectrum at each radius.

    The plane is scaled by its mean absolute deviation from the mean, so the spectrum does
    not depend on brightness; radii are measured with wrap-around (the FFT's corners are
    low frequencies), as CellProfiler's ``rps`` does.
    """
    image = np.asarray(plane, dtype=np.float64)
    rows, cols = image.shape
    if np.ptp(image) > 0:
        image = image / np.median(np.abs(image - image.mean()))
    radii = np.arange(2, int(np.floor(min(rows, cols) / 8.0)))  # skip the DC component
    if radii.size == 0:
        return np.array([2]), np.array([0.0])
    # a real plane's spectrum is conjugate-symmetric: the half plane of rfft2, its inner
    # columns counted twice, sums the same rings as the full fft2 in half the time
    half = np.abs(np.fft.rfft2(image - image.mean())) ** 2
    twice = np.full(half.shape[1], 2.0)
    twice[0] = 1.0
    if cols % 2 == 0:
        twice[-1] = 1.0
    rings = _ring_of_each_frequency(rows, cols)[:, : half.shape[1]]
    weights = (half * twice).ravel()
    sums = np.bincount(rings.ravel(), weights=weights, minlength=int(radii[-1]) + 1)
    return radii, sums[radii]


def power_log_log_slope(plane: np.ndarray) -> float:
    """CellProfiler's ``PowerLogLogSlope`` of one plane (0 for a constant plane).

    Examples
    --------
    >>> from scipy import ndimage
    >>> rng = np.random.default_rng(0)
    >>> sharp = rng.normal(100, 10, (128, 128))
    >>> blurred = ndimage.gaussian_filter(sharp, 3)
    >>> power_log_log_slope(blurred) < power_log_log_slope(sharp)
    True
    """
    plane = np.asarray(plane)
    radii, power = radial_power_spectrum(plane)
    valid = power > 0
    if np.ptp(plane) == 0 or valid.sum() < 2:
        return 0.0
    slope, _ = np.polyfit(np.log(radii[valid]), np.log(power[valid]), 1)
    return float(slope)


def _weighted_median(values: np.ndarray, counts: np.ndarray) -> float:
    """``np.median`` of a sample given as sorted distinct ``values`` and their ``counts``."""
    n = int(counts.sum())
    cumulative = np.cumsum(counts)
    low = values[np.searchsorted(cumulative, (n - 1) // 2 + 1)]
    high = values[np.searchsorted(cumulative, n // 2 + 1)]
    return (float(low) + float(high)) / 2


def _intensity_stats(plane: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """Mean, variance, median, MAD and the counts of the maximum and minimum value, in the
    plane's own units. Integer planes go through one histogram (a 1080 px plane: a few ms
    instead of two sorts); others through numpy's functions. Same values either way."""
    if np.issubdtype(plane.dtype, np.integer) and plane.min() >= 0:
        counts = np.bincount(plane.ravel())
        present = np.flatnonzero(counts)
        counts = counts[present]
        values = present.astype(np.float64)
        n = plane.size
        mean = float(counts @ values) / n
        variance = float(counts @ (values - mean) ** 2) / n
        median = _weighted_median(values, counts)
        deviations = np.abs(values - median)
        order = np.argsort(deviations, kind="stable")
        mad = _weighted_median(deviations[order], counts[order])
        return mean, variance, median, mad, float(counts[-1]), float(counts[0])
    flat = plane.astype(np.float64).ravel()
    median = float(np.median(flat))
    return (
        float(flat.mean()),
        float(flat.var()),
        median,
        float(np.median(np.abs(flat - median))),
        float(np.count_nonzero(flat == flat.max())),
        float(np.count_nonzero(flat == flat.min())),
    )


def channel_quality(plane: np.ndarray) -> dict[str, float]:
    """The ``CHANNEL_MEASURES`` of one (Y, X) plane, keyed by measure (no channel suffix)."""
    plane = np.asarray(plane)
    if plane.ndim != 2 or plane.size == 0:
        raise ValueError(f"a field plane must be 2-D and non-empty, not of shape {plane.shape}")
    # intensities in 0..1 as CellProfiler reads them (integer planes / their dtype's max)
    scale = float(np.iinfo(plane.dtype).max) if np.issubdtype(plane.dtype, np.integer) else 1.0
    mean, variance, median, mad, at_max, at_min = _intensity_stats(plane)
    mean, median, mad = mean / scale, median / scale, mad / scale
    variance /= scale**2
    return {
        "PowerLogLogSlope": power_log_log_slope(plane),
        "PercentMaximal": 100.0 * at_max / plane.size,
        "PercentMinimal": 100.0 * at_min / plane.size,
        "FocusScore": variance / mean if mean > 0 else 0.0,
        "MeanIntensity": mean,
        "MedianIntensity": median,
        "StdIntensity": float(np.sqrt(variance)),
        "MADIntensity": mad,
    }


def measure_field_quality(
    image: np.ndarray, n_cells: int | None = None, channels: Sequence[str] = CHANNELS
) -> dict[str, float]:
    """Image-quality measures of a (C, Y, X) field, one entry per channel and measure.

    Parameters
    ----------
    image
        The raw field, planes in the order of ``channels``.
    n_cells
        Cells segmented in the field (``Count_Cells``); NaN when not given.
    channels
        Names of the planes.

    Returns
    -------
    dict
        ``ImageQuality_<Measure>_<CH>`` -> value, and ``Count_Cells``.

    Examples
    --------
    >>> field = np.zeros((5, 64, 64), np.uint16)
    >>> field[:, 10:20, 10:20] = 4095
    >>> measures = measure_field_quality(field, n_cells=1)
    >>> round(measures["ImageQuality_PercentMaximal_DNA"], 2)
    2.44
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[0] != len(channels):
        raise ValueError(f"field of shape {image.shape} does not match channels {list(channels)}")
    measures: dict[str, float] = {}
    per_channel = {
        name: channel_quality(plane) for name, plane in zip(channels, image, strict=True)
    }
    for measure in CHANNEL_MEASURES:
        for name in channels:
            measures[measure_name(measure, name)] = per_channel[name][measure]
    measures[CELL_COUNT] = float("nan") if n_cells is None else float(n_cells)
    return measures

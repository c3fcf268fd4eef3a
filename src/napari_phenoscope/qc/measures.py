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

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

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


def radial_power_spectrum(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radii (2 .. side / 8) and the summed power of the plane's spectrum at each radius.

    The plane is scaled by its mean absolute deviation from the mean, so the spectrum does
    not depend on brightness; radii are measured with wrap-around (the FFT's corners are
    low frequencies), as CellProfiler's ``rps`` does.
    """
    image = np.asarray(plane, dtype=np.float64)
    rows, cols = image.shape
    y = np.arange(rows)
    x = np.arange(cols)
    y = np.minimum(y, rows - y)  # distance from the nearest zero-frequency corner
    x = np.minimum(x, cols - x)
    radius = np.floor(np.sqrt(y[:, None] ** 2 + x[None, :] ** 2)).astype(np.int64) + 1
    if np.ptp(image) > 0:
        image = image / np.median(np.abs(image - image.mean()))
    power = np.abs(np.fft.fft2(image - image.mean())) ** 2
    radii = np.arange(2, int(np.floor(min(rows, cols) / 8.0)))  # skip the DC component
    if radii.size == 0:
        return np.array([2]), np.array([0.0])
    return radii, np.asarray(ndimage.sum_labels(power, radius, radii), dtype=np.float64)


def power_log_log_slope(plane: np.ndarray) -> float:
    """CellProfiler's ``PowerLogLogSlope`` of one plane (0 for a constant plane).

    Examples
    --------
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


def _unit_scale(plane: np.ndarray) -> np.ndarray:
    """Intensities in 0..1 as CellProfiler reads them (integer planes / their dtype's max)."""
    plane = np.asarray(plane)
    if np.issubdtype(plane.dtype, np.integer):
        return plane.astype(np.float64) / np.iinfo(plane.dtype).max
    return plane.astype(np.float64)


def channel_quality(plane: np.ndarray) -> dict[str, float]:
    """The ``CHANNEL_MEASURES`` of one (Y, X) plane, keyed by measure (no channel suffix)."""
    plane = np.asarray(plane)
    if plane.ndim != 2 or plane.size == 0:
        raise ValueError(f"a field plane must be 2-D and non-empty, not of shape {plane.shape}")
    unit = _unit_scale(plane)
    mean = float(unit.mean())
    median = float(np.median(unit))
    return {
        "PowerLogLogSlope": power_log_log_slope(plane),
        "PercentMaximal": 100.0 * float(np.count_nonzero(plane == plane.max())) / plane.size,
        "PercentMinimal": 100.0 * float(np.count_nonzero(plane == plane.min())) / plane.size,
        "FocusScore": float(unit.var() / mean) if mean > 0 else 0.0,
        "MeanIntensity": mean,
        "MedianIntensity": median,
        "StdIntensity": float(unit.std()),
        "MADIntensity": float(np.median(np.abs(unit - median))),
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

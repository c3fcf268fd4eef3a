"""Field image-quality measures: CellProfiler's definitions, checked independently."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.qc import field_measure_names, measure_field_quality, power_log_log_slope
from napari_phenoscope.qc.measures import channel_quality


def _cells(seed: int = 0, size: int = 128) -> np.ndarray:
    """A plane of bright blobs on a noisy background (uint16, 12-bit)."""
    rng = np.random.default_rng(seed)
    plane = np.zeros((size, size))
    plane[tuple(rng.integers(0, size, (2, 40)))] = 1.0
    plane = ndimage.gaussian_filter(plane, 3) * 3e4 + 200
    return np.clip(plane + rng.normal(0, 8, plane.shape), 0, 4095).astype(np.uint16)


def _independent_slope(plane: np.ndarray) -> float:
    """PowerLogLogSlope written from CellProfiler's description, not from our code: radii
    with wrap-around, rings 2..side/8 summed, plane divided by its mean absolute deviation."""
    image = plane.astype(float)
    image = image / np.median(np.abs(image - image.mean()))
    power = np.abs(np.fft.fft2(image - image.mean())) ** 2
    rows, cols = image.shape
    fy = np.minimum(np.arange(rows), rows - np.arange(rows))
    fx = np.minimum(np.arange(cols), cols - np.arange(cols))
    ring = np.floor(np.hypot(fy[:, None], fx[None, :])).astype(int) + 1
    radii = np.arange(2, int(np.floor(min(rows, cols) / 8)))
    sums = np.array([power[ring == r].sum() for r in radii])
    return float(np.linalg.lstsq(np.c_[np.log(radii), np.ones(len(radii))], np.log(sums))[0][0])


def test_power_log_log_slope_matches_an_independent_computation():
    plane = _cells()
    assert power_log_log_slope(plane) == pytest.approx(_independent_slope(plane), rel=1e-9)


def test_blur_lowers_the_slope_and_brightness_does_not_change_it():
    plane = _cells()
    blurred = ndimage.gaussian_filter(plane.astype(float), 3)
    assert power_log_log_slope(blurred) < power_log_log_slope(plane) - 1.0
    assert power_log_log_slope(plane.astype(float) * 7) == pytest.approx(
        power_log_log_slope(plane), rel=1e-9
    )
    assert power_log_log_slope(np.full((64, 64), 5, np.uint16)) == 0.0


def test_percent_maximal_counts_pixels_at_the_planes_maximum():
    plane = _cells()
    plane[:10, :10] = 4095  # 100 saturated pixels of 16384
    assert channel_quality(plane)["PercentMaximal"] == pytest.approx(100 * 100 / plane.size)
    measures = channel_quality(np.zeros((10, 10), np.uint16))
    assert measures["PercentMaximal"] == 100.0 and measures["FocusScore"] == 0.0


def test_intensity_measures_are_in_unit_scale_as_cellprofiler_reads_them():
    plane = np.array([[0, 65535], [65535, 65535]], np.uint16)
    measures = channel_quality(plane)
    assert measures["MeanIntensity"] == pytest.approx(0.75)
    assert measures["MedianIntensity"] == pytest.approx(1.0)
    assert measures["FocusScore"] == pytest.approx(np.var([0, 1, 1, 1]) / 0.75)


def test_field_measures_name_every_channel_and_the_cell_count():
    field = np.stack([_cells(seed) for seed in range(len(CHANNELS))])
    measures = measure_field_quality(field, n_cells=12)
    assert list(measures) == field_measure_names()
    assert measures["Count_Cells"] == 12
    assert "ImageQuality_PowerLogLogSlope_Mito" in measures
    with pytest.raises(ValueError, match="does not match"):
        measure_field_quality(field[:3])


@pytest.mark.parametrize("shape", [(128, 128), (97, 131)])
def test_fast_paths_equal_the_plain_definitions(shape):
    """The half-spectrum slope and the histogram statistics of integer planes give the
    plain full-spectrum / numpy values, on even and odd sides."""
    rng = np.random.default_rng(1)
    plane = np.clip(rng.normal(900, 200, shape), 0, 4095).astype(np.uint16)
    plane[:7, :9] = 4095
    assert power_log_log_slope(plane) == pytest.approx(_independent_slope(plane), rel=1e-9)
    fast = channel_quality(plane)
    plain = channel_quality(plane.astype(np.float64) / 65535)  # the float path
    for measure in ("MeanIntensity", "MedianIntensity", "StdIntensity", "MADIntensity"):
        assert fast[measure] == pytest.approx(plain[measure], rel=1e-12), measure
    assert fast["FocusScore"] == pytest.approx(plain["FocusScore"], rel=1e-9)
    assert fast["PercentMaximal"] == pytest.approx(100 * 63 / plane.size)

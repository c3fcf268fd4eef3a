"""CellProfiler's radial distribution: cp_measure (MeasureObjectIntensityDistribution) as oracle."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk

from conftest import cp_measure_columns, painted_cells
from napari_phenoscope.features.classical import RADIAL_COMPARTMENTS, measure_cells

TWO = ("DNA", "ER")


def test_radial_distribution_matches_cp_measure():
    pytest.importorskip("cp_measure")
    image, nuclei, cells = painted_cells()
    ours = measure_cells(image, nuclei, cells, TWO).set_index("label")
    oracle = cp_measure_columns(image, nuclei, cells, TWO, "radial", RADIAL_COMPARTMENTS)
    assert sorted(oracle.columns) == sorted(c for c in ours.columns if "_RadialDistribution_" in c)
    for column in oracle.columns:
        expected = oracle[column]
        measured = ours.loc[expected.index, column]
        defined = expected.notna()
        np.testing.assert_allclose(
            measured[defined], expected[defined], rtol=1e-9, atol=1e-12, err_msg=column
        )
        assert (measured[~defined] == 0).all(), column


def _one_cell(radius=30, size=80):
    cells = np.zeros((size, size), np.int32)
    rows, cols = disk((size // 2, size // 2), radius)
    cells[rows, cols] = 1
    return cells


def test_central_spot_is_in_the_first_ring_and_fractions_sum_to_one():
    cells = _one_cell()
    image = np.zeros((2, 80, 80), np.uint16)
    rows, cols = disk((40, 40), 5)
    image[0, rows, cols] = 5000
    image[1][cells > 0] = 1000
    row = measure_cells(image, np.zeros_like(cells), cells, TWO).iloc[0]
    spot = [row[f"Cells_RadialDistribution_FracAtD_DNA_{r}of4"] for r in range(1, 5)]
    flat = [row[f"Cells_RadialDistribution_FracAtD_ER_{r}of4"] for r in range(1, 5)]
    assert spot[0] == pytest.approx(1.0) and sum(flat) == pytest.approx(1.0)
    assert flat == sorted(flat)  # outer rings hold more pixels
    # a flat cell: each ring's share of intensity is its share of pixels
    for r in range(1, 5):
        assert row[f"Cells_RadialDistribution_MeanFrac_ER_{r}of4"] == pytest.approx(1.0)
        assert row[f"Cells_RadialDistribution_RadialCV_ER_{r}of4"] == pytest.approx(0.0)


def test_one_sided_ring_has_a_high_radial_cv():
    cells = _one_cell()
    image = np.zeros((2, 80, 80), np.uint16)
    image[:, :, 40:][:, cells[:, 40:] > 0] = 3000  # right half only
    image[1][cells > 0] += 1000
    row = measure_cells(image, np.zeros_like(cells), cells, TWO).iloc[0]
    assert row["Cells_RadialDistribution_RadialCV_DNA_4of4"] > 0.9
    assert (
        row["Cells_RadialDistribution_RadialCV_ER_4of4"]
        < row["Cells_RadialDistribution_RadialCV_DNA_4of4"]
    )


def test_dark_cell_measures_zero_not_nan():
    image, nuclei, cells = painted_cells()
    image[:, cells == 8] = 0
    table = measure_cells(image, nuclei, cells, TWO).set_index("label")
    radial = table.filter(like="_RadialDistribution_")
    assert np.isfinite(radial.to_numpy()).all()
    assert (radial.loc[8].filter(like="FracAtD") == 0).all()

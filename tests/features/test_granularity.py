"""CellProfiler's granular spectrum: cp_measure (MeasureGranularity) as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.morphology import disk, erosion, reconstruction

from conftest import cp_measure_columns, painted_cells
from napari_phenoscope.features.classical import measure_cells
from napari_phenoscope.features.granularity import _reconstruct_ranks

TWO = ("DNA", "ER")


def test_granularity_matches_cp_measure():
    pytest.importorskip("cp_measure")
    image, nuclei, cells = painted_cells()
    ours = measure_cells(image, nuclei, cells, TWO).set_index("label")
    oracle = cp_measure_columns(image, nuclei, cells, TWO, "granularity")
    assert sorted(oracle.columns) == sorted(c for c in ours.columns if "_Granularity_" in c)
    for column in oracle.columns:
        expected = oracle[column].dropna()
        measured = ours.loc[expected.index, column]
        np.testing.assert_allclose(measured, expected, rtol=1e-9, atol=1e-9, err_msg=column)
    # the spectrum is not trivially zero past the first scales
    assert (oracle.filter(like="Cells_Granularity_4_").abs() > 0.01).any().any()
    # a cell without a nucleus: NaN in CellProfiler, 0 here
    assert (ours.loc[8].filter(like="Nuclei_Granularity_") == 0).all()


def test_flat_image_is_all_background():
    cells = np.zeros((64, 64), np.int32)
    cells[8:56, 8:56] = 1
    image = np.full((2, 64, 64), 3000, np.uint16)
    row = measure_cells(image, np.zeros_like(cells), cells, TWO).iloc[0]
    # the background opening takes everything: 100 % goes at the first step, none after
    assert row["Cells_Granularity_1_DNA"] == pytest.approx(100.0)
    assert [row[f"Cells_Granularity_{k}_ER"] for k in range(2, 17)] == [0.0] * 15


def test_spots_larger_than_a_step_survive_it():
    cells = np.zeros((128, 128), np.int32)
    cells[4:124, 4:124] = 1
    image = np.zeros((2, 128, 128), np.uint16)
    yy, xx = np.mgrid[:128, :128]
    for y in range(16, 128, 32):
        for x in range(16, 128, 32):
            image[0][(yy - y) ** 2 + (xx - x) ** 2 <= 36] = 40000  # radius 6: 3 px subsampled
    image[1][(yy % 8 == 0) & (xx % 8 == 0)] = 40000  # single pixels: gone when subsampled
    row = measure_cells(image, np.zeros_like(cells), cells, TWO).iloc[0]
    spectrum = [row[f"Cells_Granularity_{k}_DNA"] for k in range(1, 17)]
    assert spectrum[0] < 5 and max(spectrum[1:4]) > 20
    assert sum(spectrum) == pytest.approx(100.0, abs=1e-6)


def test_rank_reconstruction_equals_skimage():
    rng = np.random.default_rng(4)
    values = rng.gamma(2.0, 1.0, (40, 50))
    distinct, ranks = np.unique(values, return_inverse=True)
    ranks = ranks.reshape(values.shape)
    cross = disk(1)
    seed = erosion(erosion(ranks, cross), cross)
    expected = reconstruction(erosion(erosion(values, cross), cross), values, footprint=cross)
    np.testing.assert_array_equal(distinct[_reconstruct_ranks(seed, ranks, cross)], expected)

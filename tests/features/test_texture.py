"""CellProfiler's Haralick texture: cp_measure (CellProfiler's MeasureTexture) as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk

from conftest import cp_measure_columns, painted_cells
from napari_phenoscope.features.classical import measure_cells
from napari_phenoscope.features.texture import HARALICK_FEATURES, grey_levels

TWO = ("DNA", "ER")


def _texture_columns(table):
    return [c for c in table.columns if "_Texture_" in c]


@pytest.mark.parametrize(("scales", "levels"), [((3,), 256), ((1, 5), 256), ((3,), 8)])
def test_texture_matches_cp_measure(scales, levels):
    pytest.importorskip("cp_measure")
    image, nuclei, cells = painted_cells()
    ours = measure_cells(image, nuclei, cells, TWO, texture_scales=scales, texture_levels=levels)
    ours = ours.set_index("label")
    oracle = cp_measure_columns(image, nuclei, cells, TWO, "texture", scales=scales, levels=levels)
    assert sorted(oracle.columns) == sorted(_texture_columns(ours))
    for column in oracle.columns:
        expected = oracle[column].dropna()
        measured = ours.loc[expected.index, column]
        np.testing.assert_allclose(measured, expected, rtol=1e-9, atol=1e-12, err_msg=column)
        # where CellProfiler has no pairs (NaN) we write 0
        undefined = oracle.index[oracle[column].isna()]
        assert (ours.loc[undefined, column] == 0).all(), column
    # the edge cases are really there: the tiny cell has no pairs at offset 3
    if 3 in scales:
        assert oracle.loc[20, f"Cells_Texture_Contrast_DNA_3_00_{levels}"] != pytest.approx(0.0)
        assert np.isnan(oracle.loc[20, f"Cells_Texture_Contrast_DNA_3_01_{levels}"])


def test_uniform_cell_texture_in_closed_form():
    cells = np.zeros((50, 50), np.int32)
    rows, cols = disk((25, 25), 15)
    cells[rows, cols] = 1
    image = np.zeros((2, 50, 50), np.uint16)
    image[:, cells > 0] = 32896  # 32896 / 65535 * 255 rounds to grey level 128
    row = measure_cells(image, np.zeros_like(cells), cells, TWO).iloc[0]
    for direction in range(4):
        suffix = f"DNA_3_{direction:02d}_256"
        assert row[f"Cells_Texture_AngularSecondMoment_{suffix}"] == pytest.approx(1.0)
        assert row[f"Cells_Texture_Contrast_{suffix}"] == 0
        assert row[f"Cells_Texture_Entropy_{suffix}"] == pytest.approx(0.0, abs=1e-12)
        assert row[f"Cells_Texture_Correlation_{suffix}"] == 1.0  # mahotas' value when sd = 0
        assert row[f"Cells_Texture_SumAverage_{suffix}"] == pytest.approx(256.0)
        assert row[f"Cells_Texture_Variance_{suffix}"] == pytest.approx(0.0, abs=1e-9)
        # variance of the |i - j| histogram (1, 0, ..., 0) over levels 0..128
        size = 129
        assert row[f"Cells_Texture_DifferenceVariance_{suffix}"] == pytest.approx(
            1 / size - 1 / size**2
        )


def test_checkerboard_contrast_is_the_squared_step():
    cells = np.ones((40, 40), np.int32)
    yy, xx = np.mgrid[:40, :40]
    board = np.where((yy + xx) % 2 == 0, 100, 110).astype(float) / 255
    image = np.stack([board, board])
    row = measure_cells(image, np.zeros_like(cells), cells, TWO, texture_scales=(1,)).iloc[0]
    # horizontal and vertical neighbours always differ by 10 levels, diagonal ones never
    assert row["Cells_Texture_Contrast_DNA_1_00_256"] == pytest.approx(100.0)
    assert row["Cells_Texture_Contrast_DNA_1_02_256"] == pytest.approx(100.0)
    assert row["Cells_Texture_Contrast_DNA_1_01_256"] == pytest.approx(0.0)
    assert row["Cells_Texture_Correlation_DNA_1_00_256"] == pytest.approx(-1.0)
    assert row["Cells_Texture_Correlation_DNA_1_01_256"] == pytest.approx(1.0)


def test_cells_without_pairs_measure_zero_not_nan():
    image, nuclei, cells = painted_cells()
    table = measure_cells(image, nuclei, cells, TWO).set_index("label")
    texture = table[_texture_columns(table)]
    assert np.isfinite(texture.to_numpy()).all()
    # the 2-px cell has no pairs 3 px apart diagonally: every direction of that scale is 0
    assert (texture.loc[20] == 0).all()
    # the dim cell quantises to grey level 0 everywhere: CellProfiler ignores those pixels
    assert (texture.loc[15].filter(like="_DNA_") == 0).all()
    # cell 8 has no nucleus
    assert (texture.loc[8].filter(like="Nuclei_") == 0).all()
    assert (texture.loc[8].filter(like="Cells_Texture_Entropy") > 0).all()


def test_texture_names_cover_every_direction_and_feature():
    image, nuclei, cells = painted_cells()
    table = measure_cells(image, nuclei, cells, TWO, texture_scales=(3, 5))
    names = _texture_columns(table)
    assert len(names) == 3 * 2 * 2 * 4 * len(HARALICK_FEATURES)
    assert "Cytoplasm_Texture_InfoMeas2_ER_5_03_256" in names


def test_grey_levels_follow_cellprofiler_quantisation():
    values = np.array([0.0, 0.5 / 255, 0.51 / 255, 0.5, 1.0, 1.2, -0.1])
    assert grey_levels(values).tolist() == [0, 0, 1, 128, 255, 255, 0]
    assert grey_levels(values, levels=8).tolist() == [0, 0, 0, 3, 7, 7, 0]
    with pytest.raises(ValueError, match="between 2 and 256"):
        grey_levels(values, levels=300)

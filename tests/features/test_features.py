"""Classical features on synthetic fields whose answers are known in closed form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from skimage.draw import disk

from conftest import SHARED
from napari_phenoscope.features.classical import classical_feature_names, measure_cells

CPJUMP1_PROFILES = SHARED / "data" / "real-profiles" / "cpjump1_singlecell_BR00116991_A01_s1"

TWO = ("DNA", "ER")


def _disk_labels(shape, centre, radius, label=1, into=None):
    labels = np.zeros(shape, np.int32) if into is None else into
    rows, cols = disk(centre, radius, shape=shape)
    labels[rows, cols] = label
    return labels


def test_columns_match_declared_names_and_have_no_nans():
    rng = np.random.default_rng(0)
    cells = _disk_labels((64, 64), (32, 32), 20)
    nuclei = _disk_labels((64, 64), (32, 32), 8)
    image = rng.integers(0, 4000, (2, 64, 64)).astype(np.uint16)
    table = measure_cells(image, nuclei, cells, channels=TWO)
    assert list(table.columns) == ["label", *classical_feature_names(TWO)]
    assert not table.isna().any().any()
    assert table["label"].tolist() == [1]


def test_disk_shape_matches_geometry():
    radius = 15
    cells = _disk_labels((80, 80), (40, 40), radius, label=7)
    nuclei = _disk_labels((80, 80), (40, 40), 6, label=3)  # label numbers need not agree
    image = np.full((2, 80, 80), 100, np.uint16)
    row = measure_cells(image, nuclei, cells, channels=TWO).iloc[0]
    assert row["label"] == 7
    assert row["Cells_AreaShape_Area"] == (cells > 0).sum()
    assert row["Cells_AreaShape_Area"] == pytest.approx(np.pi * radius**2, rel=0.03)
    assert row["Nuclei_AreaShape_Area"] == (nuclei > 0).sum()
    assert row["Cytoplasm_AreaShape_Area"] == (cells > 0).sum() - (nuclei > 0).sum()
    assert row["Cells_AreaShape_Eccentricity"] < 0.1
    assert row["Cells_AreaShape_Solidity"] > 0.95
    assert row["Cells_AreaShape_FormFactor"] == pytest.approx(1.0, abs=0.12)
    assert row["Cells_AreaShape_MajorAxisLength"] == pytest.approx(2 * radius, rel=0.05)
    assert row["Cells_AreaShape_MaxFeretDiameter"] == pytest.approx(2 * radius, rel=0.06)


def test_ellipse_is_eccentric():
    yy, xx = np.mgrid[:80, :80]
    cells = (((yy - 40) / 10.0) ** 2 + ((xx - 40) / 30.0) ** 2 <= 1).astype(np.int32)
    image = np.ones((2, 80, 80), np.uint16)
    row = measure_cells(image, np.zeros_like(cells), cells, channels=TWO).iloc[0]
    assert row["Cells_AreaShape_Eccentricity"] == pytest.approx(
        np.sqrt(1 - (10 / 30) ** 2), abs=0.02
    )


def test_constant_region_intensities_are_exact_per_label():
    cells = _disk_labels((60, 100), (30, 25), 12, label=1)
    _disk_labels((60, 100), (30, 75), 12, label=2, into=cells)
    nuclei = np.zeros_like(cells)
    image = np.zeros((2, 60, 100), np.uint16)
    image[0][cells == 1], image[0][cells == 2] = 1000, 3000
    image[1][cells > 0] = 65535
    table = measure_cells(image, nuclei, cells, channels=TWO).set_index("label")
    for label, value in ((1, 1000 / 65535), (2, 3000 / 65535)):
        row = table.loc[label]
        for feature in ("Mean", "Min", "Max", "Median", "LowerQuartile", "UpperQuartile"):
            assert row[f"Cells_Intensity_{feature}Intensity_DNA"] == pytest.approx(value)
        assert row["Cells_Intensity_StdIntensity_DNA"] == pytest.approx(0.0, abs=1e-12)
        assert row["Cells_Intensity_MADIntensity_DNA"] == pytest.approx(0.0, abs=1e-12)
        area = (cells == label).sum()
        assert row["Cells_Intensity_IntegratedIntensity_DNA"] == pytest.approx(area * value)
        assert row["Cells_Intensity_MeanIntensity_ER"] == pytest.approx(1.0)
        # no nucleus: the nuclear compartment measures 0 and the cytoplasm is the cell
        assert row["Nuclei_AreaShape_Area"] == 0
        assert row["Nuclei_Intensity_MeanIntensity_DNA"] == 0
        assert row["Cytoplasm_Intensity_MeanIntensity_DNA"] == pytest.approx(value)


def test_quantiles_match_numpy_on_random_pixels():
    rng = np.random.default_rng(1)
    cells = _disk_labels((64, 64), (32, 32), 25)
    nuclei = _disk_labels((64, 64), (32, 32), 9)
    image = rng.gamma(2.0, 800.0, (2, 64, 64)).clip(0, 65535).astype(np.uint16)
    row = measure_cells(image, nuclei, cells, channels=TWO).iloc[0]
    for compartment, mask in (("Cells", cells > 0), ("Nuclei", nuclei > 0)):
        values = image[0][mask] / 65535.0
        tolerance = (values.max() - values.min()) / 1000
        prefix = f"{compartment}_Intensity_"
        assert row[prefix + "MeanIntensity_DNA"] == pytest.approx(values.mean())
        assert row[prefix + "StdIntensity_DNA"] == pytest.approx(values.std())
        assert row[prefix + "MedianIntensity_DNA"] == pytest.approx(
            np.median(values), abs=tolerance
        )
        lower, upper = np.percentile(values, [25, 75])
        assert row[prefix + "LowerQuartileIntensity_DNA"] == pytest.approx(lower, abs=tolerance)
        assert row[prefix + "UpperQuartileIntensity_DNA"] == pytest.approx(upper, abs=tolerance)
        mad = np.median(np.abs(values - np.median(values)))
        assert row[prefix + "MADIntensity_DNA"] == pytest.approx(mad, abs=2 * tolerance)


def test_correlation_of_identical_inverted_and_random_channels():
    rng = np.random.default_rng(2)
    cells = _disk_labels((64, 64), (32, 32), 25)
    nuclei = _disk_labels((64, 64), (32, 32), 10)
    base = rng.integers(100, 60000, (64, 64))
    identical = np.stack([base, base]).astype(np.uint16)
    inverted = np.stack([base, 65535 - base]).astype(np.uint16)
    noisy = np.stack([base, rng.integers(100, 60000, (64, 64))]).astype(np.uint16)
    name = "Correlation_Correlation_DNA_ER"
    assert measure_cells(identical, nuclei, cells, TWO).loc[0, f"Cells_{name}"] == pytest.approx(1)
    assert measure_cells(inverted, nuclei, cells, TWO).loc[0, f"Nuclei_{name}"] == pytest.approx(-1)
    cytoplasm = (cells > 0) & (nuclei == 0)
    expected = np.corrcoef(noisy[0][cytoplasm], noisy[1][cytoplasm])[0, 1]
    measured = measure_cells(noisy, nuclei, cells, TWO).loc[0, f"Cytoplasm_{name}"]
    assert measured == pytest.approx(expected)


def test_no_cells_gives_an_empty_table_with_all_columns():
    image = np.zeros((2, 16, 16), np.uint16)
    empty = np.zeros((16, 16), np.int32)
    table = measure_cells(image, empty, empty, channels=TWO)
    assert table.empty
    assert list(table.columns) == ["label", *classical_feature_names(TWO)]


def test_rows_follow_cell_labels_with_gaps():
    cells = _disk_labels((40, 120), (20, 20), 10, label=5)
    _disk_labels((40, 120), (20, 90), 10, label=2, into=cells)
    image = np.zeros((2, 40, 120), np.uint16)
    image[0][cells == 5] = 500
    image[0][cells == 2] = 900
    table = measure_cells(image, np.zeros_like(cells), cells, TWO)
    means = pd.Series(table["Cells_Intensity_MeanIntensity_DNA"].to_numpy(), table["label"])
    assert table["label"].tolist() == [2, 5]
    assert means[2] == pytest.approx(900 / 65535) and means[5] == pytest.approx(500 / 65535)


def test_bad_inputs_raise():
    image = np.zeros((2, 16, 16), np.uint16)
    labels = np.zeros((16, 16), np.int32)
    with pytest.raises(ValueError, match="channel names"):
        measure_cells(image, labels, labels, channels=("DNA",))
    with pytest.raises(ValueError, match="cells shape"):
        measure_cells(image, labels, labels[:8], channels=TWO)
    with pytest.raises(ValueError, match="integer"):
        measure_cells(image, labels, labels.astype(float), channels=TWO)


@pytest.mark.shared
@pytest.mark.skipif(not CPJUMP1_PROFILES.is_dir(), reason="../shared real profiles absent")
@pytest.mark.parametrize("compartment", ["Cells", "Cytoplasm", "Nuclei"])
def test_every_column_is_named_as_in_cellprofiler_cpjump1_output(compartment):
    """Our columns, less the compartment prefix, are columns of CellProfiler's own CPJUMP1 CSVs."""
    header = set(pd.read_csv(CPJUMP1_PROFILES / f"{compartment}.csv", nrows=0).columns)
    ours = [
        name.removeprefix(f"{compartment}_")
        for name in classical_feature_names()
        if name.startswith(f"{compartment}_")
    ]
    assert [name for name in ours if name not in header] == []
    assert any(name.startswith("Texture_") for name in ours)
    assert any(name.startswith("Granularity_16_") for name in ours)

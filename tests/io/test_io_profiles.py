"""Profile tables round-trip through Parquet, CSV and CSV.gz; bad tables fail clearly."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from napari_phenoscope.constants import BROAD_SAMPLE, PLATE, WELL
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.profiles import (
    feature_columns,
    feature_matrix,
    metadata_columns,
    read_profiles,
    split_profiles,
    write_profiles,
)


def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(6, 3)), columns=["f_a", "f_b", "f_c"])
    frame.insert(0, BROAD_SAMPLE, ["BRD-1", "BRD-2", "", "BRD-1", "BRD-2", ""])
    frame.insert(0, WELL, [f"A0{i}" for i in range(1, 7)])
    frame.insert(0, PLATE, "BR00116991")
    return frame


@pytest.mark.parametrize("name", ["wells.parquet", "wells.csv", "wells.csv.gz"])
def test_round_trip(tmp_path, name):
    original = table()
    path = write_profiles(original, tmp_path / "sub" / name)
    back = read_profiles(path)
    pd.testing.assert_frame_equal(
        back.fillna(""), original, check_dtype=False, check_exact=False, rtol=1e-15
    )
    if name.endswith(".gz"):
        with gzip.open(path, "rt") as handle:  # really gzipped
            assert handle.readline().startswith(PLATE)


def test_split_profiles_separates_metadata_and_features():
    meta, feats, names = split_profiles(table())
    assert list(meta.columns) == [PLATE, WELL, BROAD_SAMPLE] == metadata_columns(table())
    assert names == ["f_a", "f_b", "f_c"] == feature_columns(table())
    np.testing.assert_array_equal(feats, table()[names].to_numpy())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.assign(f_b=["x"] * 6), "feature column 'f_b' is not numeric"),
        (lambda t: t.assign(f_c=np.r_[np.nan, np.ones(5)]), "feature column 'f_c' has NaN"),
        (lambda t: t[[PLATE, WELL]], "no feature columns"),
    ],
)
def test_split_profiles_errors_name_the_column(change, message):
    with pytest.raises(ProfileTableError, match=message):
        split_profiles(change(table()), "wells.parquet")


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(ProfileTableError, match="no such profile table"):
        read_profiles(tmp_path / "missing.parquet")
    with pytest.raises(ProfileTableError, match="unknown profile table format"):
        read_profiles(tmp_path / "wells.xlsx")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(ProfileTableError, match="broken.parquet: cannot read"):
        read_profiles(broken)
    empty = tmp_path / "empty.csv"
    empty.write_text(f"{PLATE},f_a\n")
    with pytest.raises(ProfileTableError, match="no rows"):
        read_profiles(empty)


def test_numeric_feature_columns_leave_out_text_that_is_not_metadata():
    cells = table().assign(QC_reason=["", "blur", "", "", "", ""], label=range(6))
    assert feature_columns(cells) == ["f_a", "f_b", "f_c", "QC_reason", "label"]
    assert feature_columns(cells, numeric_only=True) == ["f_a", "f_b", "f_c", "label"]


def test_feature_matrix_is_float32_and_bad_features_are_clear_errors():
    values = feature_matrix(table(), ["f_c", "f_a"])
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, table()[["f_c", "f_a"]].to_numpy(), rtol=1e-6)
    bad = pd.DataFrame({"Cells_a": [1.0, np.nan], "Cells_b": [1.0, 2.0], "Cells_t": ["x", "y"]})
    with pytest.raises(ProfileTableError, match="NaN or infinite values in Cells_a"):
        feature_matrix(bad, ["Cells_a", "Cells_b"])
    with pytest.raises(ProfileTableError, match="no feature column Cells_c"):
        feature_matrix(bad, ["Cells_c"])
    with pytest.raises(ProfileTableError, match="non-numeric features"):
        feature_matrix(bad, ["Cells_b", "Cells_t"])
    with pytest.raises(ProfileTableError, match="no feature columns"):
        feature_matrix(bad, [])

"""Anyone's profile tables: reading real CellProfiler / pycytominer tables, bad tables, h5ad."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _real_tables import BACKEND, real_single_cells
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.h5ad import UMAP_KEY, write_h5ad
from napari_phenoscope.io.profile_tables import describe, load_profile_table, profile_table


@pytest.fixture(scope="module")
def real_cells_frame(real_profiles) -> pd.DataFrame:
    return real_single_cells(real_profiles)


def test_real_backend_table_is_well_level_with_numeric_metadata(real_profiles):
    table = load_profile_table(real_profiles / BACKEND)
    assert table.level == "well"
    assert len(table) == 2
    assert table.features.shape == (2, 5790)
    # pycytominer's numeric metadata stay numbers, barcodes stay text
    assert pd.api.types.is_integer_dtype(table.metadata["Metadata_Object_Count"])
    assert list(table.metadata["Metadata_Object_Count"]) == [277, 185]
    assert list(table.metadata["Metadata_Well"]) == ["A01", "A02"]
    assert "2 well-level profiles x 5790 features, 1 plate(s)" in describe(table)


@pytest.mark.parametrize("suffix", [".csv.gz", ".parquet", ".csv"])
def test_real_single_cells_round_trip_in_every_format(real_cells_frame, tmp_path, suffix):
    path = tmp_path / f"cells{suffix}"
    if suffix == ".parquet":
        real_cells_frame.to_parquet(path, index=False)
    else:
        real_cells_frame.to_csv(path, index=False)
    table = load_profile_table(path)
    assert table.level == "cell"
    assert len(table) == 234
    expected = real_cells_frame.drop(columns=list(table.metadata.columns))
    assert table.feature_names == list(expected.columns)
    np.testing.assert_allclose(table.features, expected.to_numpy(float), rtol=1e-12)
    assert table.metadata.groupby("Metadata_Plate")["Metadata_Well"].nunique().to_dict() == {
        "BR00116991": 1,
        "BR00121431": 2,
    }


def test_missing_metadata_keep_pycytominer_semantics(tmp_path):
    # empty cells and NA are missing values; numeric metadata (doses) stay numeric
    path = tmp_path / "wells.csv"
    path.write_text(
        "Metadata_Plate,Metadata_Well,Metadata_gene,Metadata_mmoles_per_liter,f1,f2\n"
        "P1,A01,PLK1,,0.5,1.0\n"
        "P1,A02,,10.0,0.25,-1.0\n"
        "P1,A03,NA,3.3,1.5,0.0\n"
    )
    table = load_profile_table(path)
    assert table.level == "well"
    assert table.metadata["Metadata_gene"].isna().tolist() == [False, True, True]
    assert pd.api.types.is_float_dtype(table.metadata["Metadata_mmoles_per_liter"])
    assert table.metadata["Metadata_mmoles_per_liter"].isna().tolist() == [True, False, False]


def test_feature_columns_with_nan_are_dropped_and_listed():
    frame = pd.DataFrame({"Metadata_Well": ["A01", "A02"], "f1": [1.0, 2.0], "f2": [1.0, None]})
    table = profile_table(frame, "t.csv")
    assert table.feature_names == ["f1"]
    assert table.dropped == ["f2"]
    assert "dropped 1 feature column(s) with NaN: f2" in describe(table)


def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header), *(",".join(map(str, r)) for r in rows)]))
    return path


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        (
            ["Metadata_Well", "Metadata_Plate"],
            [["A01", "P1"], ["A02", "P1"]],
            "no feature columns",
        ),
        (
            ["Metadata_Well", "Cells_AreaShape_Area", "Cells_AreaShape_Area"],
            [["A01", 1, 2], ["A02", 3, 4]],
            "column 'Cells_AreaShape_Area' appears 2 times",
        ),
        (
            ["Metadata_Well", "Cells_AreaShape_Area", "Image_FileName_DNA"],
            [["A01", 1, "r01c01f01.tiff"], ["A02", 3, "r01c02f01.tiff"]],
            "feature column 'Image_FileName_DNA' holds text",
        ),
        (["Metadata_Well", "f1"], [["A01", "nan"], ["A02", "nan"]], "every feature column"),
    ],
)
def test_bad_tables_end_in_one_line_naming_the_column(tmp_path, header, rows, message):
    path = write_csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(ProfileTableError, match=message) as error:
        load_profile_table(path)
    assert "\n" not in str(error.value)
    assert "bad.csv" in str(error.value)


def test_duplicated_column_in_parquet_is_named(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    arrays = [pa.array(["A01", "A02"]), pa.array([1.0, 2.0]), pa.array([3.0, 4.0])]
    pq.write_table(pa.table(arrays, names=["Metadata_Well", "f", "f"]), tmp_path / "d.parquet")
    with pytest.raises(ProfileTableError, match="column 'f' appears 2 times"):
        load_profile_table(tmp_path / "d.parquet")


def test_h5ad_export_reads_back_with_anndata(real_cells_frame, tmp_path):
    anndata = pytest.importorskip("anndata")
    frame = real_cells_frame.copy()
    frame["Metadata_gene"] = ["PLK1" if i % 3 else None for i in range(len(frame))]
    frame["Metadata_targets"] = [["PLK1", "BRD4"] if i % 2 else [] for i in range(len(frame))]
    frame["Metadata_dose"] = np.where(np.arange(len(frame)) % 4 == 0, np.nan, 0.5)
    table = profile_table(frame, "cells.parquet")
    layout = np.random.default_rng(0).normal(size=(len(table), 2))
    path = write_h5ad(table, tmp_path / "cells.h5ad", umap=layout)

    adata = anndata.read_h5ad(path)
    assert adata.shape == (234, len(table.feature_names))
    assert list(adata.var_names) == table.feature_names
    np.testing.assert_allclose(adata.X, table.features.astype(np.float32))
    np.testing.assert_allclose(adata.obsm[UMAP_KEY], layout.astype(np.float32))
    obs = adata.obs
    assert list(obs["Metadata_Well"]) == list(frame["Metadata_Well"])
    assert list(obs["Metadata_ObjectNumber"]) == list(frame["Metadata_ObjectNumber"])
    assert obs["Metadata_gene"].isna().tolist() == frame["Metadata_gene"].isna().tolist()
    assert obs["Metadata_targets"].iloc[1] == "PLK1|BRD4"
    assert np.isnan(obs["Metadata_dose"].iloc[0]) and obs["Metadata_dose"].iloc[1] == 0.5
    assert adata.uns["phenoscope"]["level"] == "cell"


def test_h5ad_refuses_a_umap_of_the_wrong_shape(real_cells_frame, tmp_path):
    table = profile_table(real_cells_frame.head(10), "cells.csv")
    with pytest.raises(ProfileTableError, match=r"expected \(10, 2\)"):
        write_h5ad(table, tmp_path / "x.h5ad", umap=np.zeros((9, 2)))
    with pytest.raises(ProfileTableError, match=r"\*\.h5ad"):
        write_h5ad(table, tmp_path / "x.zarr")


def test_cli_export_writes_h5ad_and_bad_tables_exit_2(real_cells_frame, tmp_path, capsys):
    anndata = pytest.importorskip("anndata")
    from napari_phenoscope.cli import main

    path = tmp_path / "cells.csv.gz"
    real_cells_frame.to_csv(path, index=False)
    assert main(["export", str(path), "--to", str(tmp_path / "cells.h5ad")]) == 0
    assert "234 cell-level profiles" in capsys.readouterr().out
    adata = anndata.read_h5ad(tmp_path / "cells.h5ad")
    assert adata.n_obs == 234 and "X_umap" not in adata.obsm

    bad = write_csv(tmp_path / "bad.csv", ["Metadata_Well", "f", "f"], [["A01", 1, 2]])
    assert main(["export", str(bad), "--to", str(tmp_path / "bad.h5ad")]) == 2
    error = capsys.readouterr().err
    assert error == "phenoscope export: error: bad.csv: column 'f' appears 2 times\n"


@pytest.mark.slow
def test_cli_export_umap_goes_to_obsm(real_cells_frame, tmp_path):
    anndata = pytest.importorskip("anndata")
    from napari_phenoscope.cli import main

    path = tmp_path / "cells.parquet"
    real_cells_frame.to_parquet(path, index=False)
    assert main(["export", str(path), "--to", str(tmp_path / "c.h5ad"), "--umap"]) == 0
    layout = anndata.read_h5ad(tmp_path / "c.h5ad").obsm["X_umap"]
    assert layout.shape == (234, 2) and np.isfinite(layout).all()

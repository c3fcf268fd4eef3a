"""Profiling real layouts: no plate map, --metadata / --negcon, JUMP tables, Gallery, OME-Zarr."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from test_pipeline import _field as cell_field

from _layouts import write_jump_metadata
from napari_phenoscope.constants import CHANNELS, CONTROL_TYPE, PLATE, WELL
from napari_phenoscope.errors import PhenoscopeWarning, PlateFormatError
from napari_phenoscope.profiling import pipeline

WELLS = ("A01", "A02", "B01")
SITES = (1, 2)


def write_load_data_plate(root: Path, plate: str = "BR00117035") -> Path:
    """Fields of cells as stain-named TIFFs listed by a LoadData CSV (no plate map)."""
    images = root / "images"
    images.mkdir(parents=True)
    rows = []
    for index, well in enumerate(WELLS):
        for site in SITES:
            row = {
                "Metadata_Source": "source_4",
                PLATE: plate,
                WELL: well,
                "Metadata_Site": site,
            }
            for channel, plane in zip(CHANNELS, cell_field(10 * index + site), strict=True):
                name = f"{well}_s{site}_{channel}.tiff"
                tifffile.imwrite(images / name, plane)
                row[f"FileName_Orig{channel}"] = name
                row[f"PathName_Orig{channel}"] = "images"
            rows.append(row)
    csv = root / "load_data.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv


def profile(source, out, **kwargs):
    return pipeline.profile_plates([source], out, features="classical", progress=False, **kwargs)


def test_no_plate_map_normalises_to_all_wells_with_one_warning(tmp_path):
    csv = write_load_data_plate(tmp_path / "screen")
    with pytest.warns(PhenoscopeWarning) as caught:
        outputs = profile(csv, tmp_path / "out")
    ours = [w for w in caught if issubclass(w.category, PhenoscopeWarning)]  # not pandas'
    assert len(ours) == 1 and "\n" not in str(ours[0].message)
    assert "normalised to all wells" in str(ours[0].message)
    cells = pd.read_parquet(outputs.single_cells)
    assert set(cells["Metadata_Source"]) == {"source_4"}  # LoadData metadata kept on cells
    wells = pd.read_parquet(outputs.well_profiles["classical"])
    assert sorted(wells[WELL]) == list(WELLS)
    features = [c for c in wells.columns if not c.startswith("Metadata_")]
    # robustised to all wells of the plate: every kept feature has median 0 over the wells
    assert features and np.allclose(wells[features].median(), 0.0, atol=1e-6)


def test_metadata_table_and_negcon_give_control_normalised_profiles(tmp_path):
    csv = write_load_data_plate(tmp_path / "screen")
    table = tmp_path / "wells.tsv"
    pd.DataFrame(
        {PLATE: "BR00117035", WELL: WELLS, "Metadata_treatment": ["drug", "DMSO", "DMSO"]}
    ).to_csv(table, sep="\t", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PhenoscopeWarning)
        outputs = profile(csv, tmp_path / "out", metadata=table, negcon="treatment=DMSO")
    wells = pd.read_parquet(outputs.well_profiles["classical"]).set_index(WELL)
    assert wells.loc["A02", "Metadata_treatment"] == "DMSO"
    assert wells[CONTROL_TYPE].tolist() == ["", "negcon", "negcon"]
    features = [c for c in wells.columns if not c.startswith("Metadata_")]
    controls = wells.loc[["A02", "B01"], features]
    assert np.allclose(controls.median(), 0.0, atol=1e-6)


def test_negcon_naming_an_absent_column_fails_before_any_field(tmp_path):
    csv = write_load_data_plate(tmp_path / "screen")
    with pytest.raises(PlateFormatError, match="--negcon names column compound,"):
        profile(csv, tmp_path / "out", negcon="compound=DMSO")
    assert not (tmp_path / "out" / "fields").exists()


def test_jump_metadata_folder_annotates_the_profiles(tmp_path):
    csv = write_load_data_plate(tmp_path / "screen")
    folder = write_jump_metadata(tmp_path / "jump")
    outputs = profile(csv, tmp_path / "out", metadata=folder)
    wells = pd.read_parquet(outputs.well_profiles["classical"]).set_index(WELL)
    assert wells["Metadata_pert_iname"].tolist() == ["DMSO", "TC-S-7004", "DMSO"]
    assert wells["Metadata_modality"].tolist() == ["compound"] * 3
    assert wells[CONTROL_TYPE].tolist() == ["negcon", "poscon", "negcon"]


def test_illum_folder_changes_the_measured_intensities_and_the_cache(tmp_path):
    csv = write_load_data_plate(tmp_path / "screen")
    illum = tmp_path / "illum"
    illum.mkdir()
    for channel in CHANNELS:
        np.save(illum / f"Illum{channel}.npy", np.full((96, 96), 2.0))
    column = "Cells_Intensity_MeanIntensity_AGP"
    with pytest.warns(PhenoscopeWarning):
        raw = pd.read_parquet(profile(csv, tmp_path / "out").single_cells)
    with pytest.warns(PhenoscopeWarning):
        outputs = profile(csv, tmp_path / "out", illum=illum)
    assert outputs.n_fields_computed == len(WELLS) * len(SITES)  # the raw cache is not reused
    corrected = pd.read_parquet(outputs.single_cells)
    # segmentation normalises intensities, so the same cells are found; AGP is halved
    assert len(corrected) == len(raw)
    np.testing.assert_allclose(corrected[column], raw[column] / 2, rtol=0.02)


def test_a_single_well_plate_gets_unnormalised_medians_with_one_warning(tmp_path):
    csv = write_load_data_plate(tmp_path / "screen")
    with pytest.warns(PhenoscopeWarning, match="have one well: .* not normalised"):
        outputs = profile(csv, tmp_path / "out", wells=["A02"])
    cells = pd.read_parquet(outputs.single_cells)
    wells = pd.read_parquet(outputs.well_profiles["classical"])
    column = "Cells_Intensity_MeanIntensity_AGP"
    assert wells[column].iloc[0] == pytest.approx(cells[column].median())


@pytest.mark.slow
def test_real_fields_of_two_sources_profile_without_any_plate_map(tmp_path, real_fields):
    """The issue's user story: real JUMP + pediatric fields named by one LoadData CSV."""
    numbering = {
        ("BR00143976", "C03", 3, "pediatric_cancer_atlas_profiling", "r03c03f03p01"): {
            "ER": 2,
            "AGP": 3,
            "Mito": 4,
            "DNA": 5,
            "RNA": 6,
        },
        ("BR00117006", "A01", 1, "JUMP_plate_BR00117006", "r01c01f01p01"): {
            "AGP": 2,
            "RNA": 3,
            "DNA": 5,
        },
    }
    rows = []
    for (plate, well, site, folder, stem), numbers in numbering.items():
        row = {PLATE: plate, WELL: well, "Metadata_Site": site}
        for channel, number in numbers.items():
            row[f"FileName_Orig{channel}"] = f"{stem}-ch{number}sk1fk1fl1.tiff"
            row[f"PathName_Orig{channel}"] = str(real_fields / folder / "images" / "orig")
        rows.append(row)
    csv = tmp_path / "load_data.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    with pytest.raises(PlateFormatError, match="BR00117006 well A01 site 1 has no ER image"):
        profile(csv, tmp_path / "out")
    with pytest.warns(PhenoscopeWarning):
        outputs = profile(csv, tmp_path / "out", missing="zeros", pixel_size=0.65)
    cells = pd.read_parquet(outputs.single_cells)
    per_plate = cells.groupby(PLATE).size()
    # 50-120 px cells on 1080 px fields: tens to a few hundred per field
    assert per_plate.between(20, 400).all() and len(per_plate) == 2


# --- the command line: every bad case is one line naming the file or column ------------------


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    from napari_phenoscope.cli import main

    code = main([*map(str, argv), "--no-progress"])
    return code, capsys.readouterr().err


def test_cli_profile_without_plate_map_warns_in_one_line(tmp_path, capsys):
    csv = write_load_data_plate(tmp_path / "screen")
    code, err = run_cli(
        capsys, "profile", csv, "--out", tmp_path / "out", "--features", "classical"
    )
    assert code == 0
    warning_lines = [line for line in err.splitlines() if "warning" in line]
    assert warning_lines == [
        "phenoscope profile: warning: fewer than two negative-control wells "
        "(Metadata_control_type = negcon) on plate(s) BR00117035 (0); well profiles are "
        "normalised to all wells of each plate"
    ]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("negcon_column", "--negcon names column compound, which the well metadata lacks"),
        ("table_without_well", "wells.csv has no column Metadata_Well"),
        ("illum_shape", "IllumDNA.npy has shape (8, 8); the images it corrects have shape"),
        ("zarr_without_channels", "has no channel names (no omero metadata)"),
        ("diameter_um_without_pixel_size", "--diameter-um needs the pixel size"),
    ],
)
def test_cli_bad_inputs_end_in_one_line(tmp_path, capsys, case, expected):
    from _layouts import write_ome_zarr_plate

    csv = write_load_data_plate(tmp_path / "screen")
    out = tmp_path / "out"
    args: list = ["profile", csv, "--out", out, "--features", "classical"]
    if case == "negcon_column":
        args += ["--negcon", "compound=DMSO"]
    elif case == "table_without_well":
        table = tmp_path / "wells.csv"
        pd.DataFrame({PLATE: ["BR00117035"], "Metadata_x": ["1"]}).to_csv(table, index=False)
        args += ["--metadata", table]
    elif case == "illum_shape":
        illum = tmp_path / "illum"
        illum.mkdir()
        for channel in CHANNELS:
            np.save(illum / f"Illum{channel}.npy", np.ones((8, 8)))
        args += ["--illum", illum]
    elif case == "zarr_without_channels":
        plate = write_ome_zarr_plate(tmp_path / "plate.zarr", labels=None)
        args = ["profile", plate, "--out", out, "--features", "classical"]
    else:
        args = ["segment", csv, "--out", out, "--diameter-um", "10"]
    code, err = run_cli(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], err


def test_cli_segment_and_profile_an_ome_zarr_plate_of_cells(tmp_path, capsys):
    """A zarr v3 plate of cell fields, pixel size from its metadata, diameter in microns."""
    from _layouts import write_ome_zarr_plate

    plate = write_ome_zarr_plate(tmp_path / "plate.zarr", shape=(96, 96), pixel_size_um=0.65)
    import zarr

    root = zarr.open_group(str(plate), mode="r+")
    for index, well in enumerate(("A/1", "A/2", "B/3")):
        for field in range(2):
            root[f"{well}/{field}/s0"][...] = cell_field(10 * index + field + 1)
    code, err = run_cli(capsys, "segment", plate, "--out", tmp_path / "seg", "--diameter-um", "8")
    assert code == 0, err
    cells = pd.read_parquet(tmp_path / "seg" / "cells.parquet")
    assert cells.groupby([WELL, "Metadata_Site"]).size().eq(4).all()  # four cells per field
    code, err = run_cli(
        capsys, "profile", plate, "--out", tmp_path / "prof", "--features", "classical"
    )
    assert code == 0, err
    profiles = pd.read_parquet(tmp_path / "prof" / "well_profiles_classical.parquet")
    assert sorted(profiles[WELL]) == ["A01", "A02", "B03"]

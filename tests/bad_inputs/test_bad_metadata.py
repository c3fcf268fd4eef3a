"""Broken plate maps, perturbation tables and LoadData CSVs through ``phenoscope profile``."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from cli_outcome import assert_fine, assert_refused, run_cli
from conftest import copy_compound_plate, write_tiny_plate
from napari_phenoscope import io

PROFILE = ["--features", "classical", "--no-progress"]


@pytest.fixture
def plate(tmp_path: Path) -> Path:
    return write_tiny_plate(tmp_path / "project")


def _barcode_csv(project: Path) -> Path:
    return next(project.glob("metadata/platemaps/*/barcode_platemap.csv"))


def _plate_map(project: Path) -> Path:
    return next(project.glob("metadata/platemaps/*/platemap/*.txt"))


def _profile(capsys, source: Path, tmp_path: Path, *extra: object):
    return run_cli(["profile", source, "--out", tmp_path / "out", *PROFILE, *extra], capsys)


def test_no_metadata_folder(capsys, tmp_path, cells_plate):
    """Since issue 10 a plate without plate maps profiles, normalised to all wells."""
    os.rename(cells_plate / "metadata", tmp_path / "elsewhere")
    # --qc off: every cell of A02 touches the 128 px field's edge, and QC would leave the
    # well out (tests/qc/test_qc_cli.py); this test is about the missing plate maps
    assert_fine(_profile(capsys, cells_plate, tmp_path, *FEW_WELLS, "--qc", "off"))
    assert len(pd.read_parquet(tmp_path / "out" / "well_profiles_classical.parquet")) == 3


def test_missing_barcode_platemap_csv(capsys, tmp_path, plate):
    _barcode_csv(plate).unlink()
    assert_refused(_profile(capsys, plate, tmp_path), "barcode_platemap.csv")


def test_barcode_absent_from_barcode_platemap(capsys, tmp_path, plate):
    csv = _barcode_csv(plate)
    csv.write_text(csv.read_text().replace("BR00116991", "BR00000000"))
    assert_refused(_profile(capsys, plate, tmp_path), "BR00116991")


def test_plate_map_named_but_missing(capsys, tmp_path, plate):
    _plate_map(plate).unlink()
    assert_refused(_profile(capsys, plate, tmp_path), _plate_map_name(plate))


def _plate_map_name(project: Path) -> str:
    return pd.read_csv(_barcode_csv(project))["Plate_Map_Name"].iloc[0]


def test_imaged_well_missing_from_the_plate_map(capsys, tmp_path, plate):
    plate_map = _plate_map(plate)
    lines = plate_map.read_text().splitlines(keepends=True)
    plate_map.write_text("".join(line for line in lines if not line.startswith("A02\t")))
    assert_refused(_profile(capsys, plate, tmp_path), "BR00116991/A02")


def test_renamed_plate_map_column(capsys, tmp_path, plate):
    plate_map = _plate_map(plate)
    plate_map.write_text(plate_map.read_text().replace("well_position", "Well", 1))
    assert_refused(_profile(capsys, plate, tmp_path), plate_map, "well_position")


def test_renamed_barcode_column(capsys, tmp_path, plate):
    csv = _barcode_csv(plate)
    csv.write_text(csv.read_text().replace("Assay_Plate_Barcode", "Barcode"))
    assert_refused(_profile(capsys, plate, tmp_path), csv, "Assay_Plate_Barcode")


def test_binary_garbage_barcode_platemap(capsys, tmp_path, plate):
    _barcode_csv(plate).write_bytes(os.urandom(2048))
    assert_refused(_profile(capsys, plate, tmp_path), _barcode_csv(plate))


def test_binary_garbage_plate_map(capsys, tmp_path, plate):
    _plate_map(plate).write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2048))
    assert_refused(_profile(capsys, plate, tmp_path), _plate_map(plate))


def test_perturbation_metadata_without_broad_sample(capsys, tmp_path, plate):
    table = next(plate.glob("metadata/external_metadata/*compound*.tsv"))
    table.write_text(table.read_text().replace("broad_sample", "sample", 1))
    assert_refused(_profile(capsys, plate, tmp_path), table, "broad_sample")


# --- LoadData CSVs ---------------------------------------------------------------------------


def _load_data(project: Path) -> Path:
    """The plate's fields as a CellProfiler LoadData CSV inside the project."""
    csv = project / "load_data_csv" / "BR00116991" / "load_data.csv"
    csv.parent.mkdir(parents=True)
    io.index_plate(project).dropna(axis=1).to_csv(csv, index=False)
    return csv


def test_load_data_without_a_column(capsys, tmp_path, plate):
    csv = _load_data(plate)
    pd.read_csv(csv).drop(columns=["Metadata_Well"]).to_csv(csv, index=False)
    assert_refused(_profile(capsys, csv, tmp_path), csv, "Metadata_Well")


def test_load_data_without_channel_columns(capsys, tmp_path, plate):
    csv = _load_data(plate)
    table = pd.read_csv(csv)
    table[["Metadata_Plate", "Metadata_Well", "Metadata_Site"]].to_csv(csv, index=False)
    assert_refused(_profile(capsys, csv, tmp_path), csv, "FileName_Orig")


def test_load_data_listing_a_missing_file(capsys, tmp_path, plate):
    csv = _load_data(plate)
    table = pd.read_csv(csv)
    missing = Path(table.loc[0, "PathName_OrigDNA"]) / table.loc[0, "FileName_OrigDNA"]
    missing.unlink()
    assert_refused(_profile(capsys, csv, tmp_path), missing)


def test_load_data_header_only(capsys, tmp_path, plate):
    csv = _load_data(plate)
    csv.write_text(csv.read_text().splitlines()[0] + "\n")
    assert_refused(_profile(capsys, csv, tmp_path), csv)


def test_load_data_binary_garbage(capsys, tmp_path, plate):
    csv = _load_data(plate)
    csv.write_bytes(os.urandom(4096))
    assert_refused(_profile(capsys, csv, tmp_path), csv)


def test_load_data_empty_file(capsys, tmp_path, plate):
    csv = _load_data(plate)
    csv.write_bytes(b"")
    assert_refused(_profile(capsys, csv, tmp_path), csv)


# --- encodings a spreadsheet program writes: fine --------------------------------------------


@pytest.fixture
def cells_plate(small_demo_project: Path, tmp_path: Path) -> Path:
    return copy_compound_plate(small_demo_project, tmp_path / "cells")


FEW_WELLS = ["--wells", "A02,P10,B15"]


def test_byte_order_mark_in_barcode_platemap(capsys, tmp_path, cells_plate):
    csv = _barcode_csv(cells_plate)
    csv.write_bytes(b"\xef\xbb\xbf" + csv.read_bytes())
    assert_fine(_profile(capsys, cells_plate, tmp_path, *FEW_WELLS))


def test_latin1_perturbation_metadata(capsys, tmp_path, cells_plate):
    table = next(cells_plate.glob("metadata/external_metadata/*compound*.tsv"))
    text = table.read_text(encoding="utf-8")
    first_row = text.splitlines()[1]
    table.write_bytes(text.replace(first_row, first_row + "é", 1).encode("latin-1"))
    assert_fine(_profile(capsys, cells_plate, tmp_path, *FEW_WELLS))


def test_wells_without_negative_controls(capsys, tmp_path, cells_plate):
    """Issue 10's behaviour: single cells written, well profiles normalised to all wells."""
    assert_fine(_profile(capsys, cells_plate, tmp_path, "--wells", "B15,K21"))
    profiles = pd.read_parquet(tmp_path / "out" / "well_profiles_classical.parquet")
    assert sorted(profiles["Metadata_Well"]) == ["B15", "K21"]

"""Broken image folders through ``phenoscope profile`` and ``segment``: one line, exit 2.

Each test builds its broken input from a small, valid CPJUMP1-layout plate, so that the
image at fault is the only thing wrong with it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from cli_outcome import assert_fine, assert_refused, run_cli
from conftest import copy_compound_plate, phenix_name, write_tiny_plate

WELL_AT_FAULT = "A02"
PROFILE = ["--features", "classical", "--no-progress"]


@pytest.fixture
def plate(tmp_path: Path) -> Path:
    return write_tiny_plate(tmp_path / "project")


def _images(project: Path) -> Path:
    return next((project / "images").glob("*/Images"))


def _at_fault(project: Path, channel: str = "DNA") -> Path:
    return _images(project) / phenix_name(WELL_AT_FAULT, 1, channel)


def _profile(capsys, project: Path, tmp_path: Path, *extra: object):
    return run_cli(["profile", project, "--out", tmp_path / "out", *PROFILE, *extra], capsys)


def test_empty_folder(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_refused(_profile(capsys, empty, tmp_path), empty)


def test_folder_of_non_image_files(capsys, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "README.txt").write_text("plate notes")
    (folder / "photo.jpg").write_bytes(os.urandom(256))
    assert_refused(_profile(capsys, folder, tmp_path), folder)


def test_missing_plate_folder(capsys, tmp_path):
    assert_refused(_profile(capsys, tmp_path / "nowhere", tmp_path), tmp_path / "nowhere")


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda path: path.write_bytes(os.urandom(4096)), id="random-bytes"),
        pytest.param(lambda path: path.write_bytes(path.read_bytes()[:300]), id="truncated"),
        pytest.param(lambda path: path.write_bytes(b""), id="zero-bytes"),
        pytest.param(
            lambda path: tifffile.imwrite(path, np.zeros((32, 32, 3), np.uint8)), id="rgb-uint8"
        ),
        pytest.param(
            lambda path: tifffile.imwrite(path, np.full((32, 32), np.nan, np.float32)),
            id="float-nan",
        ),
        pytest.param(
            lambda path: tifffile.imwrite(path, np.zeros((2, 32, 32), np.uint16)), id="multi-page"
        ),
        pytest.param(
            lambda path: tifffile.imwrite(path, np.full((32, 32), -5, np.int32)), id="negative-int"
        ),
    ],
)
def test_an_unreadable_channel_file_is_named(capsys, tmp_path, plate, damage):
    damage(_at_fault(plate))
    assert_refused(_profile(capsys, plate, tmp_path), _at_fault(plate))


def test_a_channel_of_another_shape(capsys, tmp_path, plate):
    tifffile.imwrite(_at_fault(plate, "ER"), np.zeros((16, 16), np.uint16))
    message = assert_refused(_profile(capsys, plate, tmp_path), f"well {WELL_AT_FAULT} site 1")
    assert "16" in message and "32" in message


def test_a_missing_channel_is_named(capsys, tmp_path, plate):
    _at_fault(plate, "ER").unlink()
    assert_refused(_profile(capsys, plate, tmp_path), f"well {WELL_AT_FAULT} site 1", "ER")


def test_bright_field_only_folder(capsys, tmp_path):
    folder = tmp_path / "brightfield" / "Images"
    folder.mkdir(parents=True)
    for channel in (6, 7, 8):
        name = f"r01c01f01p01-ch{channel}sk1fk1fl1.tiff"
        tifffile.imwrite(folder / name, np.zeros((32, 32), np.uint16))
    message = assert_refused(_profile(capsys, folder, tmp_path), folder)
    assert "ch6" in message  # says which channels it saw and that the map does not use them


def test_one_pixel_images(capsys, tmp_path):
    project = write_tiny_plate(tmp_path / "project", size=1)
    assert_refused(_profile(capsys, project, tmp_path), "found no cells", project)


def test_two_measurements_of_one_plate_are_not_mixed(capsys, tmp_path, plate):
    first = _images(plate).parent
    second = first.with_name(first.name.replace("Measurement1", "Measurement2"))
    shutil.copytree(first, second)
    assert_refused(_profile(capsys, plate, tmp_path), first.name, second.name)


def test_segment_names_the_unreadable_file(capsys, tmp_path, plate):
    _at_fault(plate).write_bytes(os.urandom(1000))
    outcome = run_cli(["segment", plate, "--out", tmp_path / "seg", "--no-progress"], capsys)
    assert_refused(outcome, _at_fault(plate))


# --- inputs a user would call fine: exit 0 ---------------------------------------------------


@pytest.fixture
def cells_plate(small_demo_project: Path, tmp_path: Path) -> Path:
    return copy_compound_plate(small_demo_project, tmp_path / "cells")


#: Two negative-control wells and a treated one of the small demo's compound plate.
FEW_WELLS = "A02,P10,B15"


def test_a_black_field_beside_normal_ones(capsys, tmp_path, cells_plate):
    for channel in ("DNA", "ER", "RNA", "AGP", "Mito"):
        path = _images(cells_plate) / phenix_name("B15", 1, channel)
        tifffile.imwrite(path, np.zeros_like(tifffile.imread(path)))
    outcome = assert_fine(_profile(capsys, cells_plate, tmp_path, "--wells", FEW_WELLS))
    cells = pd.read_parquet(tmp_path / "out" / "single_cells.parquet")
    assert set(cells["Metadata_Well"]) == {"A02", "P10"}  # the black well has no cells
    assert "3 fields" in outcome.out


def test_a_missing_channel_filled_with_zeros(capsys, tmp_path, cells_plate):
    (_images(cells_plate) / phenix_name("B15", 1, "Mito")).unlink()
    zeros = ["--missing-channels", "zeros", "--wells", FEW_WELLS]
    assert_fine(_profile(capsys, cells_plate, tmp_path, *zeros))
    cells = pd.read_parquet(tmp_path / "out" / "single_cells.parquet")
    b15 = cells[cells["Metadata_Well"] == "B15"]
    assert len(b15) and (b15["Cells_Intensity_MeanIntensity_Mito"] == 0).all()


def test_a_second_focal_plane_is_ignored(capsys, tmp_path, cells_plate):
    for path in list(_images(cells_plate).glob("r01c02f01p01-*.tiff")):
        plane2 = path.with_name(path.name.replace("p01-", "p02-"))
        tifffile.imwrite(plane2, np.zeros_like(tifffile.imread(path)))
    assert_fine(_profile(capsys, cells_plate, tmp_path, "--wells", FEW_WELLS))
    cells = pd.read_parquet(tmp_path / "out" / "single_cells.parquet")
    assert (cells["Metadata_Well"] == "A02").sum() > 0  # plane 1 was read, not the black plane 2

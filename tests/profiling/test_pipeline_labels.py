"""``phenoscope profile --labels SEG_DIR``: exactly the given cells, and bad label folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from test_pipeline import SITES, SIZE, WELLS, _write_cells

from cli_outcome import run_cli
from conftest import write_tiny_plate
from napari_phenoscope.constants import PLATE, SITE, WELL
from napari_phenoscope.segmentation import label_paths

BARCODE = "BR00116991"
#: Hand-made cells (not Phenoscope's): ids a segmenter would never give, one per square.
CELL_IDS = (5, 17, 230)


def _squares(ids: tuple[int, ...] = CELL_IDS, size: int = SIZE) -> np.ndarray:
    cells = np.zeros((size, size), np.uint16)
    for position, label in enumerate(ids):
        top = 6 + 28 * position
        cells[top : top + 22, 10:40] = label
    return cells


def _write_labels(
    seg_dir: Path, nuclei: bool = True, skip: tuple[tuple[str, int], ...] = ()
) -> Path:
    """Label images in the ``phenoscope segment --out`` layout; nuclei numbered 1, 2, 3."""
    for well in WELLS:
        for site in SITES:
            if (well, site) in skip:
                continue
            nuclei_path, cells_path = label_paths(seg_dir, BARCODE, well, site)
            cells_path.parent.mkdir(parents=True, exist_ok=True)
            cells = _squares()
            tifffile.imwrite(cells_path, cells)
            if nuclei:
                inner = np.zeros_like(cells, dtype=np.uint8)
                for number, label in enumerate(CELL_IDS, start=1):
                    ys, xs = np.nonzero(cells == label)
                    inner[ys.min() + 6 : ys.max() - 5, xs.min() + 8 : xs.max() - 7] = number
                tifffile.imwrite(nuclei_path, inner)
    return seg_dir


@pytest.fixture
def cell_plate(tmp_path: Path) -> Path:
    project = write_tiny_plate(tmp_path / "project", wells=WELLS, sites=SITES, size=SIZE)
    return _write_cells(project)


def _profile(plate: Path, out: Path, seg_dir: Path, capsys, *extra: str):
    return run_cli(
        [
            "profile",
            plate,
            "--out",
            out,
            "--features",
            "classical",
            "--labels",
            seg_dir,
            "--no-progress",
            *extra,
        ],
        capsys,
    )


@pytest.mark.parametrize("with_nuclei", [True, False], ids=["nuclei+cells", "cells only"])
def test_profiles_exactly_the_given_cells(cell_plate, tmp_path, capsys, with_nuclei):
    seg_dir = _write_labels(tmp_path / "seg", nuclei=with_nuclei)
    outcome = _profile(cell_plate, tmp_path / "out", seg_dir, capsys)
    assert outcome.code == 0, outcome.err
    cells = pd.read_parquet(tmp_path / "out" / "single_cells.parquet")
    # the segmenter would have found four round cells per field; the labels hold three squares
    per_field = cells.groupby([WELL, SITE])["label"].apply(lambda s: tuple(sorted(s)))
    assert len(per_field) == len(WELLS) * len(SITES)
    assert set(per_field) == {CELL_IDS}
    square_area = 22 * 30
    assert (cells["Cells_AreaShape_Area"] == square_area).all()
    nucleus_area = (22 - 12) * (30 - 16) if with_nuclei else square_area
    assert (cells["Nuclei_AreaShape_Area"] == nucleus_area).all()


def test_edited_labels_are_profiled_again(cell_plate, tmp_path, capsys):
    seg_dir = _write_labels(tmp_path / "seg", nuclei=False)
    assert _profile(cell_plate, tmp_path / "out", seg_dir, capsys).code == 0
    cells_path = label_paths(seg_dir, BARCODE, "A01", 1)[1]
    edited = _squares(CELL_IDS[:2])  # a cell erased by hand
    tifffile.imwrite(cells_path, edited)
    assert _profile(cell_plate, tmp_path / "out", seg_dir, capsys).code == 0
    cells = pd.read_parquet(tmp_path / "out" / "single_cells.parquet")
    field = cells[(cells[WELL] == "A01") & (cells[SITE] == 1)]
    assert sorted(field["label"]) == list(CELL_IDS[:2])
    assert len(cells) == len(WELLS) * len(SITES) * len(CELL_IDS) - 1


def test_missing_field_is_one_line_error_or_skipped(cell_plate, tmp_path, capsys):
    seg_dir = _write_labels(tmp_path / "seg", skip=(("A02", 2),))
    missing = label_paths(seg_dir, BARCODE, "A02", 2)[1]
    outcome = _profile(cell_plate, tmp_path / "out", seg_dir, capsys)
    assert outcome.code == 2
    assert len(outcome.err.strip().splitlines()) == 1 and str(missing) in outcome.err
    assert not (tmp_path / "out" / "fields").exists()  # stopped before computing anything

    outcome = _profile(cell_plate, tmp_path / "out", seg_dir, capsys, "--missing-labels", "skip")
    assert outcome.code == 0, outcome.err
    cells = pd.read_parquet(tmp_path / "out" / "single_cells.parquet")
    fields = set(map(tuple, cells[[WELL, SITE]].drop_duplicates().to_numpy().tolist()))
    assert ("A02", 2) not in fields and len(fields) == len(WELLS) * len(SITES) - 1
    assert set(cells[PLATE]) == {BARCODE}


@pytest.mark.parametrize(
    "bad, expected",
    [
        (np.zeros((SIZE, SIZE + 4), np.uint16), "shape"),
        (np.zeros((SIZE, SIZE), np.float32), "integers"),
    ],
    ids=["wrong shape", "not integer"],
)
def test_bad_label_image_is_one_line_naming_the_file(cell_plate, tmp_path, capsys, bad, expected):
    seg_dir = _write_labels(tmp_path / "seg")
    bad_path = label_paths(seg_dir, BARCODE, "B03", 1)[1]
    tifffile.imwrite(bad_path, bad)
    outcome = _profile(cell_plate, tmp_path / "out", seg_dir, capsys)
    assert outcome.code == 2
    line = outcome.err.strip()
    assert len(line.splitlines()) == 1 and str(bad_path) in line and expected in line


def test_label_folder_that_does_not_exist(cell_plate, tmp_path, capsys):
    outcome = _profile(cell_plate, tmp_path / "out", tmp_path / "nowhere", capsys)
    assert outcome.code == 2 and "nowhere" in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1

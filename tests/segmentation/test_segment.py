"""Segmentation against ground truth: demo fields, synthetic discs, CellProfiler outlines."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from scipy import ndimage as ndi
from skimage.measure import regionprops
from skimage.segmentation import clear_border, expand_labels

from conftest import phenix_name
from napari_phenoscope.cli import main
from napari_phenoscope.constants import (
    CELL_AREA,
    CENTER_X,
    CENTER_Y,
    CHANNELS,
    NUCLEUS_AREA,
    OBJECT_NUMBER,
    PLATE,
    SITE,
    WELL,
)
from napari_phenoscope.demo.project import render_field
from napari_phenoscope.errors import PhenoscopeError
from napari_phenoscope.segmentation import (
    BBOX_MAX_X,
    BBOX_MAX_Y,
    BBOX_MIN_X,
    BBOX_MIN_Y,
    LABEL,
    TOUCHES_BORDER,
    cell_table,
    match_labels,
    segment_cells,
    segment_field,
    segment_nuclei,
)
from napari_phenoscope.segmentation.batch import label_paths, segment_plate

TABLE_COLUMNS = [
    LABEL,
    OBJECT_NUMBER,
    CENTER_X,
    CENTER_Y,
    BBOX_MIN_X,
    BBOX_MIN_Y,
    BBOX_MAX_X,
    BBOX_MAX_Y,
    NUCLEUS_AREA,
    CELL_AREA,
    TOUCHES_BORDER,
]


def ellipse_field(
    centers: list[tuple[float, float]],
    radius: float = 9.0,
    size: int = 128,
    seed: int = 0,
    peak: float = 3000.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A DNA image of noisy discs (Poisson-like noise, 16-bit) and its true labels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    truth = np.zeros((size, size), np.int32)
    signal = np.zeros((size, size))
    for label, (cy, cx) in enumerate(centers, start=1):
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        truth[inside & (truth == 0)] = label
        signal = np.maximum(signal, inside * peak * rng.uniform(0.7, 1.0))
    image = 200 + ndi.gaussian_filter(signal, 1.0) + rng.normal(0, 40, signal.shape)
    return np.clip(image, 0, 65535).astype(np.uint16), truth


# --- nuclei and cells against ground truth -------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_demo_fields_match_ground_truth(seed):
    field = render_field(seed, size=256)
    result = segment_field(field.image)
    nuclei = match_labels(result.nuclei, field.nuclei)
    n_true = int(field.cells.max())
    assert nuclei.f1 >= 0.9, nuclei
    assert abs(len(result.table) - n_true) <= max(1, 0.1 * n_true)
    assert match_labels(result.cells, field.cells).f1 >= 0.8


def test_crowded_demo_field_with_uneven_illumination():
    size = 320
    ramp = np.linspace(0.5, 1.0, size)[None, :] * np.ones((size, 1))
    field = render_field(7, size=size, n_cells=70, illumination=ramp)
    result = segment_field(field.image)
    assert match_labels(result.nuclei, field.nuclei).f1 >= 0.9
    n_true = int(field.nuclei.max())
    assert abs(len(result.table) - n_true) / n_true <= 0.1


def test_touching_nuclei_are_split():
    dna, truth = ellipse_field([(40, 40), (40, 56), (90, 90)], radius=9)  # first two touch
    nuclei = segment_nuclei(dna)
    result = match_labels(nuclei, truth)
    assert (result.tp, result.fp, result.fn) == (3, 0, 0)


def test_uneven_illumination_does_not_create_or_lose_nuclei():
    centers = [(y, x) for y in range(20, 256, 40) for x in range(20, 256, 40)]
    dna, truth = ellipse_field(centers, size=256, seed=3)
    yy, xx = np.mgrid[:256, :256]
    offset = 2500 * (yy + xx) / 510  # additive ramp up to ~ the nuclei's own peak
    vignetting = 1 - 0.4 * ((yy - 128) ** 2 + (xx - 128) ** 2) / (2 * 128**2)
    nuclei = segment_nuclei(dna * vignetting + offset)
    assert match_labels(nuclei, truth).f1 == 1.0


def test_12_bit_data_in_16_bit_files_segments_the_same():
    field = render_field(4, size=256)
    twelve_bit = (field.image >> 4).astype(np.uint16)  # values 0..4095 in a uint16 array
    assert twelve_bit.max() <= 4095
    full = segment_field(field.image)
    reduced = segment_field(twelve_bit)
    assert match_labels(reduced.nuclei, full.nuclei).f1 >= 0.97
    assert match_labels(reduced.nuclei, field.nuclei).f1 >= 0.9


def test_nucleus_diameter_is_estimated_at_any_scale():
    small, small_truth = ellipse_field([(30, 30), (30, 90), (90, 60)], radius=6, seed=1)
    large, large_truth = ellipse_field(
        [(100, 100), (100, 300), (300, 200)], radius=24, size=400, seed=1
    )
    assert match_labels(segment_nuclei(small), small_truth).f1 == 1.0
    assert match_labels(segment_nuclei(large), large_truth).f1 == 1.0
    given = segment_nuclei(large, diameter=48)
    assert match_labels(given, large_truth).f1 == 1.0


def test_real_cpjump1_field_matches_cellprofiler_nuclei(real_fields):
    """CellProfiler's nucleus outlines of the real A549 field as a (rough) reference."""
    from PIL import Image

    folder = real_fields / "JUMP_plate_BR00117006" / "images"
    outlines = np.asarray(
        Image.open(folder / "outlines" / "r01c01f01p01-ch5sk1fk1fl1_nuclei_outlines.png")
    )
    inside, _ = ndi.label(outlines == 0)
    inside[inside == np.argmax(np.bincount(inside.ravel()))] = 0  # the background region
    reference = expand_labels(inside, 1)  # the outline pixels belong to the nucleus
    planes = {
        channel: tifffile.imread(folder / "orig" / f"r01c01f01p01-ch{number}sk1fk1fl1.tiff")
        for channel, number in (("DNA", 5), ("AGP", 2), ("RNA", 3))  # ER, Mito are missing
    }
    result = segment_field(planes, well="A01")
    # CellProfiler discarded nuclei touching the border; so do we for the comparison
    assert match_labels(clear_border(result.nuclei), reference).f1 >= 0.9
    assert (result.table[WELL] == "A01").all()
    assert result.table[TOUCHES_BORDER].any() and not result.table[TOUCHES_BORDER].all()


# --- empty fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((5, 96, 96), np.uint16),
        np.full((5, 96, 96), 1234, np.uint16),
        np.random.default_rng(0).normal(500, 30, (5, 96, 96)).astype(np.uint16),
    ],
    ids=["zeros", "constant", "noise"],
)
def test_empty_field_gives_no_objects_and_an_empty_table(image):
    result = segment_field(image, plate="P1", well="B02", site=3)
    assert result.nuclei.shape == result.cells.shape == (96, 96)
    assert result.nuclei.dtype == result.cells.dtype == np.int32
    assert result.nuclei.max() == 0 and result.cells.max() == 0
    assert list(result.table.columns) == [PLATE, WELL, SITE, *TABLE_COLUMNS]
    assert len(result.table) == 0
    assert result.table[CENTER_X].dtype == np.float64
    assert result.table[TOUCHES_BORDER].dtype == bool


# --- invariants and the table ----------------------------------------------------------------


def test_cell_k_contains_nucleus_k_and_table_matches_regionprops():
    field = render_field(5, size=256)
    result = segment_field(field.image, plate="P", well="C03", site=2)
    nuclei, cells, table = result.nuclei, result.cells, result.table
    ids = np.unique(nuclei[nuclei > 0])
    assert np.array_equal(ids, np.arange(1, len(ids) + 1))
    assert np.array_equal(cells[nuclei > 0], nuclei[nuclei > 0])
    assert set(np.unique(cells[cells > 0])) == set(ids)
    assert list(table[LABEL]) == list(ids)
    assert (table[OBJECT_NUMBER] == table[LABEL]).all()
    assert (table[[PLATE, WELL]] == ["P", "C03"]).all().all() and (table[SITE] == 2).all()
    by_label = table.set_index(LABEL)
    for nucleus, cell in zip(regionprops(nuclei), regionprops(cells), strict=True):
        row = by_label.loc[nucleus.label]
        assert row[CENTER_Y] == pytest.approx(nucleus.centroid[0])
        assert row[CENTER_X] == pytest.approx(nucleus.centroid[1])
        assert row[NUCLEUS_AREA] == nucleus.area and row[CELL_AREA] == cell.area
        min_y, min_x, max_y, max_x = cell.bbox
        assert (row[BBOX_MIN_X], row[BBOX_MIN_Y], row[BBOX_MAX_X], row[BBOX_MAX_Y]) == (
            min_x,
            min_y,
            max_x,
            max_y,
        )
        touches = min_y == 0 or min_x == 0 or max_y == cells.shape[0] or max_x == cells.shape[1]
        assert row[TOUCHES_BORDER] == touches


def test_cells_stay_within_the_distance_limit():
    field = render_field(6, size=256)
    nuclei = segment_nuclei(field.image[0], diameter=14)
    cytoplasm = field.image[CHANNELS.index("AGP")]
    cells = segment_cells(cytoplasm, nuclei, diameter=14, max_distance=0.5)
    distance = ndi.distance_transform_edt(nuclei == 0)
    assert distance[cells > 0].max() <= 0.5 * 14 + 2  # + the 2x coarser distance grid
    assert (cells > 0).sum() > (nuclei > 0).sum()


def test_missing_cytoplasm_channels_use_what_exists():
    field = render_field(8, size=256)
    planes = dict(zip(CHANNELS, field.image, strict=True))
    full = segment_field(field.image)
    only_agp = segment_field({"DNA": planes["DNA"], "AGP": planes["AGP"]})
    zero_planes = field.image.copy()
    zero_planes[[CHANNELS.index(c) for c in ("ER", "RNA", "Mito")]] = 0  # missing files
    zero_filled = segment_field(zero_planes)
    assert np.array_equal(only_agp.cells, zero_filled.cells)
    nuclei_only = segment_field({"DNA": planes["DNA"]})
    assert np.array_equal(only_agp.nuclei, full.nuclei)
    assert np.array_equal(only_agp.cells[full.nuclei > 0], full.nuclei[full.nuclei > 0])
    assert not np.array_equal(only_agp.cells, nuclei_only.cells)  # AGP was used
    assert match_labels(only_agp.cells, field.cells).f1 >= 0.6  # (demo AGP alone is weak)
    assert np.array_equal(nuclei_only.nuclei, full.nuclei)
    assert np.array_equal(nuclei_only.cells[full.nuclei > 0], full.nuclei[full.nuclei > 0])
    assert (nuclei_only.cells > 0).sum() > (full.nuclei > 0).sum()  # expanded nuclei


def test_missing_dna_or_wrong_shape_is_a_clear_error():
    with pytest.raises(PhenoscopeError, match="no DNA channel"):
        segment_field({"AGP": np.ones((32, 32))})
    with pytest.raises(PhenoscopeError, match="does not match channels"):
        segment_field(np.zeros((3, 32, 32)))


def test_cellpose_without_the_package_or_weights_is_one_clear_line(monkeypatch, tmp_path):
    image = render_field(0, size=128).image
    if importlib.util.find_spec("cellpose") is None:
        with pytest.raises(PhenoscopeError, match="needs the cellpose package") as error:
            segment_field(image, method="cellpose")
        assert "\n" not in str(error.value)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    monkeypatch.setenv("CELLPOSE_LOCAL_MODELS_PATH", str(tmp_path))
    with pytest.raises(PhenoscopeError, match="never downloads") as error:
        segment_field(image, method="cellpose")
    assert str(tmp_path) in str(error.value) and "\n" not in str(error.value)


# --- matching ---------------------------------------------------------------------------------


def test_match_labels_counts_true_and_false_positives():
    truth = np.zeros((20, 20), np.int32)
    truth[2:6, 2:6] = 1  # 16 px
    truth[10:14, 10:14] = 2
    truth[15:19, 2:6] = 3
    pred = np.zeros_like(truth)
    pred[2:6, 2:7] = 7  # IoU 16/20: a match, whatever the label id
    pred[10:14, 12:16] = 4  # IoU 8/24: no match
    pred[0:2, 15:19] = 9  # nothing there
    result = match_labels(pred, truth)
    assert (result.tp, result.fp, result.fn) == (1, 2, 2)
    assert result.f1 == pytest.approx(2 / 6)
    assert match_labels(np.zeros_like(truth), np.zeros_like(truth)).f1 == 1.0


def test_cell_table_of_empty_labels_has_the_columns_and_dtypes():
    empty = np.zeros((10, 10), np.int32)
    table = cell_table(empty, empty)
    assert list(table.columns) == TABLE_COLUMNS and table.empty
    assert table[LABEL].dtype == np.int32


# --- the plate command ------------------------------------------------------------------------


def write_demo_plate(root: Path, wells: tuple[str, ...] = ("A01", "B02"), sites=(1, 2)) -> dict:
    """A CPJUMP1-layout plate of demo fields; returns the true labels per (well, site)."""
    images = root / "images" / "BR00000001__2020-11-05T19_51_35-Measurement1" / "Images"
    images.mkdir(parents=True)
    truth = {}
    for index, (well, site) in enumerate((w, s) for w in wells for s in sites):
        field = render_field(index, size=192)
        for channel, plane in zip(CHANNELS, field.image, strict=True):
            tifffile.imwrite(images / phenix_name(well, site, channel), plane)
        truth[(well, site)] = field
    return truth


def test_segment_plate_writes_labels_and_a_cell_table(tmp_path):
    truth = write_demo_plate(tmp_path / "project")
    out = tmp_path / "out"
    path = segment_plate(tmp_path / "project", out, wells=["b2"], progress=False)
    cells = pd.read_parquet(path)
    assert path == out / "cells.parquet"
    assert list(cells.columns) == [PLATE, WELL, SITE, *TABLE_COLUMNS]
    assert set(cells[WELL]) == {"B02"} and set(cells[SITE]) == {1, 2}
    assert (cells[PLATE] == "BR00000001").all()
    for site in (1, 2):
        nuclei_path, cells_path = label_paths(out, "BR00000001", "B02", site)
        nuclei = tifffile.imread(nuclei_path)
        assert match_labels(nuclei, truth[("B02", site)].nuclei).f1 >= 0.9
        labels = np.unique(tifffile.imread(cells_path))
        assert list(cells.loc[cells[SITE] == site, LABEL]) == list(labels[labels > 0])
    assert not label_paths(out, "BR00000001", "A01", 1)[0].exists()


def test_cli_segment_and_its_errors(tmp_path, tiny_plate, capsys):
    out = tmp_path / "out"
    assert main(["segment", str(tiny_plate), "--out", str(out), "--no-progress"]) == 0
    cells = pd.read_parquet(out / "cells.parquet")  # constant planes: no cells at all
    assert cells.empty and list(cells.columns) == [PLATE, WELL, SITE, *TABLE_COLUMNS]
    assert len(list((out / "labels").rglob("*_nuclei.tiff"))) == 6
    assert "0 cells" in capsys.readouterr().out
    code = main(["segment", str(tiny_plate), "--out", str(out), "--wells", "P24", "--no-progress"])
    assert code == 2
    assert "no images of well(s) P24" in capsys.readouterr().err

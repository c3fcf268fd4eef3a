"""The headless plate -> profiles run: outputs, resume after interruption, bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import tifffile
from skimage.draw import disk

import napari_phenoscope.profiling.outputs as outputs_module
from conftest import phenix_name, write_tiny_plate
from napari_phenoscope.cli import main
from napari_phenoscope.constants import (
    CHANNELS,
    CONTROL_TYPE,
    OBJECT_NUMBER,
    PERT_INAME,
    PLATE,
    SITE,
    WELL,
)
from napari_phenoscope.errors import PhenoscopeWarning, PlateFormatError
from napari_phenoscope.features.classical import classical_feature_names
from napari_phenoscope.profiling import outputs, pipeline
from napari_phenoscope.profiling.wells import well_profiles

WELLS = ("A01", "A02", "B03")  # gabapentin-enacarbil, DMSO, DMSO on the compound map
SITES = (1, 2)
SIZE = 96
CENTRES = ((24, 24), (24, 70), (70, 26), (68, 72))


def _field(seed: int, n_cells: int = len(CENTRES)) -> np.ndarray:
    """A (C, Y, X) field of round cells: bright nuclei in DNA, bodies in the other channels."""
    rng = np.random.default_rng(seed)
    image = rng.normal(300, 20, (len(CHANNELS), SIZE, SIZE))
    for centre in CENTRES[:n_cells]:
        body = disk(centre, 13, shape=(SIZE, SIZE))
        nucleus = disk(centre, 6, shape=(SIZE, SIZE))
        for channel in range(1, len(CHANNELS)):
            image[channel][body] += rng.uniform(3000, 9000)
        image[0][nucleus] += rng.uniform(15000, 25000)
    return np.clip(image, 0, 65535).astype(np.uint16)


def _write_cells(project: Path, empty: tuple[tuple[str, int], ...] = ()) -> Path:
    """Replace the tiny plate's flat images by fields of cells (``empty`` fields: none)."""
    folder = next((project / "images").glob("*/Images"))
    for index, well in enumerate(WELLS):
        for site in SITES:
            cells = 0 if (well, site) in empty else len(CENTRES)
            stack = _field(10 * index + site, n_cells=cells)
            for channel, plane in zip(CHANNELS, stack, strict=True):
                tifffile.imwrite(folder / phenix_name(well, site, channel), plane)
    return project


@pytest.fixture
def cell_plate(tmp_path: Path) -> Path:
    project = write_tiny_plate(tmp_path / "project", wells=WELLS, sites=SITES, size=SIZE)
    return _write_cells(project)


def _run(plate: Path, out: Path, **kwargs) -> pipeline.ProfileOutputs:
    kwargs.setdefault("features", "classical")
    return pipeline.profile_plates([plate], out, progress=False, **kwargs)


def test_classical_run_writes_cells_and_normalised_well_profiles(cell_plate, tmp_path, monkeypatch):
    per_batch = len(SITES) * len(CENTRES) + 1  # two wells' cells: batches of two wells
    monkeypatch.setattr(outputs_module, "ROWS_PER_BATCH", per_batch)
    outputs = _run(cell_plate, tmp_path / "out")
    cells = pd.read_parquet(outputs.single_cells)
    assert outputs.n_fields == len(WELLS) * len(SITES) == outputs.n_fields_computed
    assert list(cells.columns[:5]) == [PLATE, WELL, SITE, OBJECT_NUMBER, "label"]
    assert outputs.n_cells == len(cells)
    per_field = cells.groupby([WELL, SITE]).size()
    assert (per_field == len(CENTRES)).all() and len(per_field) == len(WELLS) * len(SITES)
    assert set(classical_feature_names(CHANNELS)) <= set(cells.columns)
    assert not any(c.startswith("Cells_ViT_") for c in cells.columns)
    annotated = cells.drop_duplicates(WELL).set_index(WELL)
    assert annotated.loc["A01", PERT_INAME] == "gabapentin-enacarbil"
    assert annotated.loc["A02", CONTROL_TYPE] == "negcon"

    profiles = pd.read_parquet(outputs.well_profiles["classical"])
    assert sorted(profiles[WELL]) == sorted(WELLS)
    features = [c for c in profiles.columns if not c.startswith("Metadata_")]
    assert features and set(features) <= set(classical_feature_names(CHANNELS))
    assert np.isfinite(profiles[features].to_numpy()).all()
    # assembled a batch of whole wells at a time: the same profiles as from the whole
    # single-cell table, and the same tables as assembled in one batch
    whole = well_profiles(cells, outputs.feature_columns["classical"])
    pd.testing.assert_frame_equal(profiles, whole, check_dtype=False)
    assert pq.ParquetFile(outputs.single_cells).num_row_groups == -(-len(WELLS) // 2)
    monkeypatch.setattr(outputs_module, "ROWS_PER_BATCH", 10**6)
    (tmp_path / "out" / "single_cells.parquet").unlink()
    at_once = _run(cell_plate, tmp_path / "out")  # every field cached: assembly only
    assert pq.ParquetFile(at_once.single_cells).num_row_groups == 1
    pd.testing.assert_frame_equal(pd.read_parquet(at_once.single_cells), cells)
    pd.testing.assert_frame_equal(pd.read_parquet(at_once.well_profiles["classical"]), profiles)


def test_resume_after_interruption_recomputes_only_unfinished_fields(
    cell_plate, tmp_path, monkeypatch
):
    reference = pd.read_parquet(_run(cell_plate, tmp_path / "reference").single_cells)
    out = tmp_path / "out"
    real_measure = pipeline.measure_field
    calls: list[tuple] = []

    def interrupted(image, key, *args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt  # as a user's Ctrl-C in the middle of the fourth field
        calls.append(key)
        return real_measure(image, key, *args, **kwargs)

    monkeypatch.setattr(pipeline, "measure_field", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(cell_plate, out)
    cached = sorted((out / "fields").rglob("*.parquet"))
    assert len(cached) == 3
    assert not list((out / "fields").rglob("*.tmp")), "no half-written file is left"
    assert not (out / "single_cells.parquet").exists()

    calls.clear()
    monkeypatch.setattr(
        pipeline, "measure_field", lambda *a, **k: calls.append(a[1]) or real_measure(*a, **k)
    )
    outputs = _run(cell_plate, out)
    assert len(calls) == len(WELLS) * len(SITES) - 3
    assert outputs.n_fields_computed == len(calls)
    resumed = pd.read_parquet(outputs.single_cells)
    pd.testing.assert_frame_equal(resumed, reference)

    calls.clear()
    again = _run(cell_plate, out)
    assert calls == [] and again.n_fields_computed == 0


def test_cache_without_the_requested_feature_set_is_recomputed(cell_plate, tmp_path):
    out = tmp_path / "out"
    assert _run(cell_plate, out).n_fields_computed == len(WELLS) * len(SITES)
    path = pipeline.field_cache_path(out, "BR00116991", "A01", 1)
    signature = {"feature_sets": ["vit"], "model": "another"}
    pipeline.write_parquet_atomic(pd.read_parquet(path), path, signature)
    assert _run(cell_plate, out).n_fields_computed == 1
    # a field measured with older classical definitions is measured again
    signature = {"feature_sets": ["classical"], "model": None}
    pipeline.write_parquet_atomic(pd.read_parquet(path), path, signature)
    assert _run(cell_plate, out).n_fields_computed == 1


def test_one_control_well_per_plate_normalises_to_all_wells_with_a_warning(cell_plate, tmp_path):
    with pytest.warns(PhenoscopeWarning, match=r"two negative-control wells.*BR00116991 \(1\)"):
        outputs = _run(cell_plate, tmp_path / "out", wells=["A01", "A02"])
    assert (tmp_path / "out" / "single_cells.parquet").is_file()
    assert outputs.well_profiles["classical"].is_file()


def test_field_without_cells_contributes_no_rows(tmp_path):
    project = write_tiny_plate(tmp_path / "project", wells=WELLS, sites=SITES, size=SIZE)
    _write_cells(project, empty=(("B03", 2),))
    cells = pd.read_parquet(_run(project, tmp_path / "out").single_cells)
    assert ((cells[WELL] == "B03") & (cells[SITE] == 2)).sum() == 0
    assert ((cells[WELL] == "B03") & (cells[SITE] == 1)).sum() == len(CENTRES)


def test_empty_plate_folder_is_a_clear_error(tmp_path, capsys):
    empty = tmp_path / "empty_plate"
    empty.mkdir()
    with pytest.raises(PlateFormatError, match="empty_plate"):
        _run(empty, tmp_path / "out")
    code = main(["profile", str(empty), "--out", str(tmp_path / "out"), "--features", "classical"])
    assert code == 2
    error = capsys.readouterr().err
    assert "empty_plate" in error and len(error.strip().splitlines()) == 1


def test_plate_whose_fields_have_no_cells_is_a_clear_error(tmp_path):
    project = write_tiny_plate(tmp_path / "project", wells=("A02",), sites=(1,), size=SIZE)
    with pytest.raises(PlateFormatError, match="no cells"):
        _run(project, tmp_path / "out")


def test_missing_channel_stops_unless_zeros_are_asked_for(cell_plate, tmp_path):
    folder = next((cell_plate / "images").glob("*/Images"))
    (folder / phenix_name("A02", 1, "Mito")).unlink()
    with pytest.raises(PlateFormatError, match="Mito"):
        _run(cell_plate, tmp_path / "out")
    outputs = _run(cell_plate, tmp_path / "out", missing="zeros")
    cells = pd.read_parquet(outputs.single_cells)
    field = cells[(cells[WELL] == "A02") & (cells[SITE] == 1)]
    assert len(field) and (field["Cells_Intensity_MaxIntensity_Mito"] == 0).all()


def test_wells_filter_and_unknown_wells(cell_plate, tmp_path):
    outputs = _run(cell_plate, tmp_path / "out", wells=["a02", "B03"])
    cells = pd.read_parquet(outputs.single_cells)
    assert sorted(cells[WELL].unique()) == ["A02", "B03"]
    with pytest.raises(PlateFormatError, match="P24"):
        _run(cell_plate, tmp_path / "other", wells=["P24"])


def test_unknown_feature_set_is_rejected(cell_plate, tmp_path):
    with pytest.raises(pipeline.PhenoscopeError, match="texture"):
        _run(cell_plate, tmp_path / "out", features="texture")
    assert pipeline.parse_feature_sets("both") == ("vit", "classical")


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "table.parquet"
    old = pd.DataFrame({"a": [1, 2]})
    pipeline.write_parquet_atomic(old, path)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(outputs.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        pipeline.write_parquet_atomic(pd.DataFrame({"a": [3]}), path)
    pd.testing.assert_frame_equal(pd.read_parquet(path), old)
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]


def _random_weights(path: Path, seed: int) -> Path:
    """A small randomly initialised encoder saved as a weights file (tests only)."""
    import torch

    from napari_phenoscope.models import EncoderConfig, create_encoder, save_weights

    torch.manual_seed(seed)
    config = EncoderConfig(embed_dim=32, depth=1, num_heads=2)
    save_weights(path, create_encoder(config), method="mae", config=config)
    return path


def test_vit_and_classical_run_and_cache_keyed_by_weights(cell_plate, tmp_path):
    weights = _random_weights(tmp_path / "a.safetensors", seed=0)
    out = tmp_path / "out"
    both = _run(cell_plate, out, features="both", model_path=weights, device="cpu")
    cells = pd.read_parquet(both.single_cells)
    vit = [c for c in cells.columns if c.startswith("Cells_ViT_")]
    assert vit == both.feature_columns["vit"] and len(vit) == 32
    assert np.isfinite(cells[vit].to_numpy()).all()
    assert set(both.well_profiles) == {"vit", "classical"}
    vit_profiles = pd.read_parquet(both.well_profiles["vit"])
    assert {c for c in vit_profiles.columns if not c.startswith("Metadata_")} <= set(vit)

    classical = _run(cell_plate, out, features="classical")
    assert classical.n_fields_computed == 0  # the "both" cache serves a classical run
    assert not any(c.startswith("Cells_ViT_") for c in pd.read_parquet(classical.single_cells))

    same = _run(cell_plate, out, features="vit", model_path=weights, device="cpu")
    assert same.n_fields_computed == 0
    other = _random_weights(tmp_path / "b.safetensors", seed=1)
    changed = _run(cell_plate, out, features="vit", model_path=other, device="cpu")
    assert changed.n_fields_computed == len(WELLS) * len(SITES)


def test_missing_weights_file_is_named(cell_plate, tmp_path):
    from napari_phenoscope.errors import ModelWeightsError

    with pytest.raises(ModelWeightsError, match="nowhere.safetensors"):
        _run(
            cell_plate,
            tmp_path / "out",
            features="vit",
            model_path=tmp_path / "nowhere.safetensors",
        )


def test_corrupt_image_is_named_and_the_fixed_plate_resumes(cell_plate, tmp_path):
    folder = next((cell_plate / "images").glob("*/Images"))
    broken = folder / phenix_name("B03", 1, "ER")
    original = broken.read_bytes()
    broken.write_bytes(b"not a tiff")
    out = tmp_path / "out"
    with pytest.raises(PlateFormatError, match=broken.name):
        _run(cell_plate, out)
    assert len(list((out / "fields").rglob("*.parquet"))) == 4  # A01, A02 were finished
    broken.write_bytes(original)
    assert _run(cell_plate, out).n_fields_computed == 2


def test_a_classical_run_never_imports_torch(cell_plate, tmp_path):
    """torch, timm and torchvision cost each Dask worker ~4 CPU-s to import (docs/scale.md):
    a run without the ViT must not pay it, in-process or in a field task."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from napari_phenoscope.profiling.pipeline import profile_plates\n"
        f"profile_plates([{str(cell_plate)!r}], {str(tmp_path / 'out')!r}, "
        "features='classical', progress=False)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'timm'))\n"
        "assert not loaded, loaded[:5]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list((tmp_path / "out" / "fields").rglob("*.parquet"))) == 6

"""``segment``, ``profile`` and ``view --images`` on a plate that lives on S3 (moto's server on
127.0.0.1, tests/_s3.py): the same cells and profiles as from the same plate on disk, a run
cut by the network resumes, and the CLI's cache options."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from _s3 import (
    BUCKET,
    CELLS_BATCH,
    CELLS_PLATE,
    CELLS_SOURCE,
    CELLS_ZARR,
    s3_client,
    upload_tree,
    write_cells_ome_zarr,
)
from napari_phenoscope.cli import main
from napari_phenoscope.errors import RemoteDataError
from napari_phenoscope.profiling.pipeline import profile_plates

CELLS_URL = f"s3://{BUCKET}/{CELLS_SOURCE}"
CELLS_CSV = f"{CELLS_URL}/workspace/load_data_csv/{CELLS_BATCH}/{CELLS_PLATE}/load_data.csv"
KEY = ["Metadata_Plate", "Metadata_Well", "Metadata_Site", "Metadata_ObjectNumber"]


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values(KEY).reset_index(drop=True)


@pytest.fixture(scope="module")
def cells_zarr(s3_server, tmp_path_factory) -> tuple[str, Path]:
    """(S3 URL, local copy) of the rendered cells as an OME-Zarr plate on the test server."""
    server, _ = s3_server
    local = write_cells_ome_zarr(tmp_path_factory.mktemp("cells-zarr") / "cells.zarr")
    upload_tree(s3_client(server.moto_endpoint), local, BUCKET, CELLS_ZARR)
    return f"s3://{BUCKET}/{CELLS_ZARR}", local


@pytest.mark.slow
def test_a_profile_from_s3_equals_the_profile_from_disk(s3, tmp_path):
    _, local = s3
    from_s3 = profile_plates([CELLS_URL], tmp_path / "s3", features="classical", progress=False)
    from_disk = profile_plates(
        [local / "source_cells"], tmp_path / "disk", features="classical", progress=False
    )
    cells_s3 = _sorted(pd.read_parquet(from_s3.single_cells))
    cells_disk = _sorted(pd.read_parquet(from_disk.single_cells))
    assert from_s3.n_cells > 10 and set(cells_s3["Metadata_Well"]) == {"A01", "B02"}
    pd.testing.assert_frame_equal(cells_s3, cells_disk)


def test_a_run_cut_by_the_network_resumes_where_it_stopped(s3, tmp_path):
    server, _ = s3
    server.proxy.arm("503", "r02c02f01p01-ch3")  # well B02's RNA image: the server gives up
    with pytest.raises(RemoteDataError, match="r02c02f01p01-ch3.*run again"):
        profile_plates([CELLS_CSV], tmp_path / "out", features="classical", progress=False)
    assert len(list((tmp_path / "out" / "fields").rglob("*.parquet"))) == 1  # A01 is kept
    server.proxy.reset()
    outputs = profile_plates([CELLS_CSV], tmp_path / "out", features="classical", progress=False)
    assert outputs.n_fields == 2 and outputs.n_fields_computed == 1
    # every image fetched before the fault came from the cache: only B02's RNA is fetched
    fetched = [p for m, p in server.proxy.requests if m == "GET" and p.endswith(".tiff")]
    assert len(fetched) == 1 and "r02c02f01p01-ch3" in fetched[0]


def test_segment_and_profile_commands_take_s3_urls_and_a_cache_dir(s3, tmp_path, capsys):
    _, local = s3
    cache = tmp_path / "my-cache"
    code = main(
        ["segment", CELLS_URL, "--out", str(tmp_path / "seg"), "--no-progress"]
        + ["--cache-dir", str(cache), "--cache-size", "1"]
    )
    assert code == 0
    assert len(list(cache.rglob("*.tiff"))) == 10  # the plate's 2 fields x 5 channels
    main(["segment", str(local / "source_cells"), "--out", str(tmp_path / "seg-disk")])
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "seg" / "cells.parquet"),
        pd.read_parquet(tmp_path / "seg-disk" / "cells.parquet"),
    )
    capsys.readouterr()
    code = main(
        ["profile", CELLS_CSV, "--out", str(tmp_path / "prof"), "--features", "classical"]
        + ["--no-progress", "--cache-dir", str(cache), "--clear-cache"]
    )
    assert code == 0
    assert "cleared" in capsys.readouterr().err
    assert len(list(cache.rglob("*.tiff"))) == 10  # emptied, then fetched again


def test_view_images_opens_a_plate_on_s3_headless(s3):
    from napari_phenoscope.session.opening import read_plate_session

    opened = read_plate_session(CELLS_URL)
    assert len(opened.session.fields) == 2
    assert [layer[1]["name"] for layer in opened.first_field] == ["DNA", "ER", "RNA", "AGP", "Mito"]
    assert opened.first_field[0][0].shape == (128, 128)


def test_a_bad_cache_size_is_one_line(s3, tmp_path, capsys):
    code = main(["segment", CELLS_URL, "--out", str(tmp_path / "x"), "--cache-size", "0"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--cache-size" in err


def test_qc_takes_an_s3_url_and_judges_the_same_fields_as_on_disk(s3, tmp_path):
    _, local = s3
    cache = tmp_path / "qc-cache"
    remote = ["qc", CELLS_CSV, "--out", str(tmp_path / "qc-s3"), "--no-progress"]
    assert main([*remote, "--cache-dir", str(cache)]) == 0
    assert len(list(cache.rglob("*.tiff"))) == 10  # the plate's 2 fields x 5 channels
    assert main(["qc", str(local / "source_cells"), "--out", str(tmp_path / "qc-disk")]) == 0
    from_s3 = pd.read_csv(tmp_path / "qc-s3" / "qc_fields.csv")
    from_disk = pd.read_csv(tmp_path / "qc-disk" / "qc_fields.csv")
    pd.testing.assert_frame_equal(from_s3, from_disk)


@pytest.mark.slow
def test_a_profile_of_an_ome_zarr_plate_on_s3_equals_the_profile_from_disk(
    s3, cells_zarr, tmp_path
):
    url, local = cells_zarr
    from_s3 = profile_plates([url], tmp_path / "s3", features="classical", progress=False)
    from_disk = profile_plates([local], tmp_path / "disk", features="classical", progress=False)
    cells_s3 = _sorted(pd.read_parquet(from_s3.single_cells))
    cells_disk = _sorted(pd.read_parquet(from_disk.single_cells))
    assert from_s3.n_cells > 10 and set(cells_s3["Metadata_Well"]) == {"A01", "B02"}
    pd.testing.assert_frame_equal(cells_s3, cells_disk)
    pd.testing.assert_frame_equal(
        pd.read_parquet(from_s3.well_profiles["classical"]),
        pd.read_parquet(from_disk.well_profiles["classical"]),
    )


def test_a_zarr_run_cut_by_the_network_resumes_fetching_only_what_it_lacked(
    s3, cells_zarr, tmp_path
):
    from napari_phenoscope.io.omezarr import _image

    server, _ = s3
    url, local = cells_zarr
    _image.cache_clear()  # as in a new process
    failing = "cells.zarr/B/2/0/s0/c/2/1/0"  # well B02's RNA, one quarter of the plane
    server.proxy.arm("503", failing)
    with pytest.raises(RemoteDataError, match=f"{failing}.*run again"):
        profile_plates([url], tmp_path / "out", features="classical", progress=False)
    assert len(list((tmp_path / "out" / "fields").rglob("*.parquet"))) == 1  # A01 is kept
    server.proxy.reset()
    outputs = profile_plates([url], tmp_path / "out", features="classical", progress=False)
    assert outputs.n_fields == 2 and outputs.n_fields_computed == 1
    held = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    fetched = [p.split(".zarr/", 1)[-1] for m, p in server.proxy.requests if m == "GET"]
    assert [key for key in fetched if key in held] == [failing.split(".zarr/")[1]]

"""OME-Zarr plates on S3 (io.remote_zarr) against a real S3 server on 127.0.0.1: read through
the object cache like the TIFF plates (each object fetched once, retried, named when it
fails), and the same pixels as the same plate on disk.

The plates here have seeded random pixels in chunks of a quarter plane (so a chunk read
from the wrong place shows), two resolution levels, and one chunk that is all zero, which
zarr does not write: the bucket lacks it and it reads as the fill value.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from _layouts import write_ome_zarr_plate
from _s3 import BUCKET, s3_client, upload_tree
from napari_phenoscope.errors import PlateFormatError, RemoteDataError
from napari_phenoscope.io import index_plate, read_field, remote
from napari_phenoscope.io.omezarr import _image, ome_zarr_pixel_size
from napari_phenoscope.io.remote_zarr import chunk_keys

KEY = ["Metadata_Plate", "Metadata_Well", "Metadata_Site"]
METADATA = ("zarr.json", ".zarray", ".zattrs", ".zgroup")
#: Version -> the key of channel 2's first chunk of A/1 field 0, level 0: all zero, unwritten.
EMPTY_CHUNK = {"0.5": "A/1/0/s0/c/2/0/0", "0.4": "A/1/0/s0/2/0/0"}
#: Version -> a chunk that holds pixels (channel 3's last of the same image).
FULL_CHUNK = {"0.5": "A/1/0/s0/c/3/1/1", "0.4": "A/1/0/s0/3/1/1"}


def _planes(well: str, site: int) -> np.ndarray:
    seed = [ord(letter) for letter in well] + [site]
    data = np.random.default_rng(seed).integers(1, 60_000, (5, 32, 32), dtype=np.uint16)
    if (well, site) == ("A01", 1):
        data[2, :16, :16] = 0  # one chunk of fill value: zarr does not write it
    return data


@pytest.fixture(scope="module")
def zarr_plates(s3_server, tmp_path_factory) -> dict[str, tuple[str, Path]]:
    """Version -> (S3 URL, local copy) of a chunked plate uploaded to the test server."""
    server, _ = s3_server
    client = s3_client(server.moto_endpoint)
    plates = {}
    for version in ("0.5", "0.4"):
        local = write_ome_zarr_plate(
            tmp_path_factory.mktemp("zarr") / "chunked.zarr",
            version=version,
            chunks=(1, 16, 16),
            levels=2,
            planes=_planes,
        )
        assert not (local / EMPTY_CHUNK[version]).exists()  # the bucket will lack it too
        prefix = f"ome-chunked-v{version}/chunked.zarr"
        upload_tree(client, local, BUCKET, prefix)
        plates[version] = (f"s3://{BUCKET}/{prefix}", local)
    return plates


@pytest.fixture
def zarr_s3(s3, zarr_plates):
    """``s3`` (fresh cache, short retries, no faults) with the plates; ome-zarr's opened
    images forgotten, as in a new process."""
    _image.cache_clear()
    yield s3[0], zarr_plates
    _image.cache_clear()


def _gets(server) -> list[str]:
    return [path for method, path in server.proxy.requests if method == "GET"]


@pytest.mark.parametrize("version", ["0.5", "0.4"])
def test_a_zarr_plate_on_s3_reads_like_its_local_copy_each_object_once(zarr_s3, version):
    server, plates = zarr_s3
    url, local = plates[version]
    remote_fields = index_plate(url)
    local_fields = index_plate(local)
    assert remote_fields[KEY].equals(local_fields[KEY]) and len(remote_fields) == 6
    assert remote_fields["PathName_OrigDNA"].str.startswith(f"{url}/").all()
    for position in range(len(remote_fields)):
        np.testing.assert_array_equal(
            read_field(remote_fields.iloc[position]), read_field(local_fields.iloc[position])
        )
    first = read_field(remote_fields.iloc[0])
    assert (first[2, :16, :16] == 0).all() and (first[2, 16:, 16:] > 0).all()
    field_path = Path(remote_fields.iloc[0]["PathName_OrigDNA"]) / "0"
    assert ome_zarr_pixel_size(field_path) == pytest.approx(ome_zarr_pixel_size(local / "A/1/0"))

    stored = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    fetched = [path.split(".zarr/", 1)[1] for path in _gets(server)]
    held = [key for key in fetched if key in stored]
    assert len(held) == len(set(held))  # every object the bucket holds: at most once
    chunks = {key for key in stored if not key.endswith(METADATA)}
    level0 = {key for key in chunks if "/s0/" in key}
    assert len(level0) == 6 * 5 * 4 - 1 and level0 <= set(fetched)  # every chunk read ...
    assert not (chunks - level0) & set(fetched)  # ... of level 0 only
    # they are in the cache, under the bucket and key
    cache = remote.object_cache()
    assert cache.path_of(f"{url}/{FULL_CHUNK[version]}").is_file()
    assert not cache.path_of(f"{url}/{EMPTY_CHUNK[version]}").exists()


@pytest.mark.parametrize("version", ["0.5", "0.4"])
def test_a_revisit_fetches_no_object_it_already_has(zarr_s3, version):
    server, plates = zarr_s3
    url, local = plates[version]
    fields = index_plate(url)
    first = [read_field(fields.iloc[position]) for position in (0, 5)]
    _image.cache_clear()  # a new process, the same cache folder
    server.proxy.requests.clear()
    fields = index_plate(url)
    again = [read_field(fields.iloc[position]) for position in (0, 5)]
    for before, after in zip(first, again, strict=True):
        np.testing.assert_array_equal(before, after)
    stored = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    asked_again = [path.split(".zarr/", 1)[-1] for path in _gets(server)]
    # what is asked again is only what the bucket lacks (probes, the unwritten chunk)
    assert asked_again and not [key for key in asked_again if key in stored]


def test_a_chunk_throttled_twice_is_retried_and_read(zarr_s3):
    server, plates = zarr_s3
    url, local = plates["0.5"]
    field = index_plate(url).iloc[0]
    server.proxy.arm("503", FULL_CHUNK["0.5"], times=2)
    np.testing.assert_array_equal(read_field(field), read_field(index_plate(local).iloc[0]))
    assert len([path for path in _gets(server) if path.endswith(FULL_CHUNK["0.5"])]) == 3


def test_a_chunk_that_keeps_failing_is_one_line_naming_it_and_nothing_half_written(zarr_s3):
    server, plates = zarr_s3
    url, _ = plates["0.5"]
    field = index_plate(url).iloc[0]
    server.proxy.arm("503", FULL_CHUNK["0.5"])
    with pytest.raises(RemoteDataError) as raised:
        read_field(field)
    message = str(raised.value)
    assert "\n" not in message and f"{url}/{FULL_CHUNK['0.5']}" in message
    assert "after 3 tries" in message and "run again" in message
    cache = remote.object_cache()
    assert not cache.path_of(f"{url}/{FULL_CHUNK['0.5']}").exists()
    assert not any((cache.root / ".partial").iterdir())


def test_a_stalled_chunk_times_out_and_is_named(zarr_s3):
    server, plates = zarr_s3
    url, _ = plates["0.4"]
    field = index_plate(url).iloc[0]
    server.proxy.stall_s = 2.0
    server.proxy.arm("stall", FULL_CHUNK["0.4"])
    started = time.perf_counter()
    with pytest.raises(RemoteDataError, match=f"cannot fetch {url}/{FULL_CHUNK['0.4']}"):
        read_field(field)
    assert time.perf_counter() - started < 30


def test_a_well_whose_metadata_keeps_failing_is_named_when_indexing(zarr_s3):
    server, plates = zarr_s3
    url, _ = plates["0.5"]
    server.proxy.arm("503", "chunked.zarr/B/3/zarr.json")
    with pytest.raises(RemoteDataError, match=f"cannot fetch {url}/B/3/zarr.json .* after 3 tries"):
        index_plate(url)


def test_no_zarr_at_the_url_is_one_line(zarr_s3):
    with pytest.raises(PlateFormatError, match="no zarr metadata"):
        index_plate(f"s3://{BUCKET}/nothing-here/plate.zarr")


def test_anonymous_by_default_and_the_users_aws_credentials_when_set(zarr_s3, monkeypatch):
    server, plates = zarr_s3
    url, _ = plates["0.5"]
    server.proxy.arm("403", "chunked.zarr/zarr.json", times=1)
    with pytest.raises(RemoteDataError, match=f"{url}/zarr.json refuses anonymous access"):
        index_plate(url)
    assert server.proxy.requests and not server.proxy.signed  # unsigned requests
    server.proxy.reset()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    read_field(index_plate(url).iloc[1])
    assert len(server.proxy.signed) == len(server.proxy.requests) > 0  # every one signed
    server.proxy.arm("403", FULL_CHUNK["0.5"])
    _image.cache_clear()
    with pytest.raises(RemoteDataError, match="denied with your AWS credentials"):
        read_field(index_plate(url).iloc[0])


def test_a_cache_smaller_than_a_field_still_reads_the_right_pixels(zarr_s3, monkeypatch):
    _, plates = zarr_s3
    url, local = plates["0.4"]
    monkeypatch.setenv(remote.CACHE_SIZE_ENV, "1e-9")  # 1 byte: all but what is read goes
    remote_fields, local_fields = index_plate(url), index_plate(local)
    for position in (0, 3):
        np.testing.assert_array_equal(
            read_field(remote_fields.iloc[position]), read_field(local_fields.iloc[position])
        )
    plate_bytes = sum(path.stat().st_size for path in local.rglob("*") if path.is_file())
    assert remote.object_cache().size() < plate_bytes / 3  # evicted as it went


def test_chunk_keys_cover_the_selection_in_chunks_or_shards(tmp_path):
    import zarr

    plain = zarr.create_array(
        store=str(tmp_path / "a.zarr"), shape=(5, 100, 70), chunks=(1, 50, 50), dtype="uint16"
    )
    assert chunk_keys(plain, (2, slice(None), slice(None))) == [
        "c/2/0/0",
        "c/2/0/1",
        "c/2/1/0",
        "c/2/1/1",
    ]
    assert chunk_keys(plain, (4, slice(60, 100), slice(0, 10))) == ["c/4/1/0"]
    sharded = zarr.create_array(
        store=str(tmp_path / "s.zarr"),
        shape=(5, 100, 70),
        chunks=(1, 25, 25),
        shards=(1, 50, 50),
        dtype="uint16",
    )
    assert chunk_keys(sharded, (0, slice(None), slice(None))) == [
        "c/0/0/0",
        "c/0/0/1",
        "c/0/1/0",
        "c/0/1/1",
    ]
    v2 = zarr.create_array(
        store=str(tmp_path / "v2.zarr"),
        shape=(5, 100, 70),
        chunks=(1, 50, 50),
        dtype="uint16",
        zarr_format=2,
    )
    assert chunk_keys(v2, (1, slice(None), slice(50, 70))) == ["1.0.1", "1.1.1"]

"""Plates on S3 (io.remote, and the readers through it) against a real S3 server on 127.0.0.1.

moto's server holds a Gallery source (``s3://cellpainting-gallery/cpg0016-jump/source_4``,
the CSVs naming S3 as the real ones do) and an OME-Zarr plate; the fault proxy in front of it
answers 503, stalls, drops objects or refuses access where a test arms it.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from _layouts import GALLERY_BATCH, GALLERY_PLATE, S3_SOURCE
from napari_phenoscope.errors import PlateFormatError, RemoteDataError
from napari_phenoscope.io import index_plate, read_field, remote
from napari_phenoscope.io.remote import ObjectCache, as_url, is_remote

PLATE_CSVS = f"{S3_SOURCE}/workspace/load_data_csv/{GALLERY_BATCH}/{GALLERY_PLATE}"


def _listings(requests: list[tuple[str, str]]) -> list[str]:
    return [path for method, path in requests if method == "GET" and "list-type" in path]


def _object_gets(requests: list[tuple[str, str]], suffix: str) -> list[str]:
    return [path for method, path in requests if method == "GET" and path.endswith(suffix)]


def test_url_spellings():
    assert is_remote("s3://b/k") and is_remote(__import__("pathlib").Path("s3://b/k"))
    assert not is_remote("/data/s3/k")
    assert as_url(__import__("pathlib").Path("s3://b/a/x.tiff")) == "s3://b/a/x.tiff"


def test_gallery_source_on_s3_indexes_and_reads_like_its_local_copy(s3):
    server, local = s3
    remote_fields = index_plate(S3_SOURCE)
    local_fields = index_plate(local / "source_4")
    key = ["Metadata_Plate", "Metadata_Well", "Metadata_Site"]
    assert remote_fields[key].equals(local_fields[key])
    assert remote_fields["PathName_OrigDNA"].str.startswith("s3://cellpainting-gallery/").all()
    # the illumination functions exist on S3, so load_data_with_illum is the index
    assert remote_fields["FileName_IllumDNA"].notna().all()
    for position in (0, 3):
        np.testing.assert_array_equal(
            read_field(remote_fields.iloc[position]), read_field(local_fields.iloc[position])
        )
    # the plate was indexed from its CSV: only the load_data_csv prefix was ever listed
    listings = _listings(server.proxy.requests)
    assert listings and all("workspace%2Fload_data_csv" in path for path in listings)


@pytest.mark.parametrize(
    "url",
    [
        PLATE_CSVS + "/load_data.csv.gz",
        PLATE_CSVS,
        f"{S3_SOURCE}/images/{GALLERY_BATCH}/images/{GALLERY_PLATE}__2021-05-02T16_02_51-"
        "Measurement1/Images/",
    ],
    ids=["csv", "plate-prefix", "image-prefix"],
)
def test_every_gallery_url_of_a_plate_opens_it(s3, url):
    fields = index_plate(url)
    assert len(fields) == 6 and set(fields["Metadata_Plate"]) == {GALLERY_PLATE}


def test_a_revisit_reads_the_cache_and_fetches_nothing(s3):
    server, _ = s3
    field = index_plate(PLATE_CSVS + "/load_data.csv.gz").iloc[2]
    first = read_field(field)
    assert len(_object_gets(server.proxy.requests, ".tiff")) == 5  # five channels, once each
    server.proxy.requests.clear()
    np.testing.assert_array_equal(read_field(field), first)
    assert _object_gets(server.proxy.requests, ".tiff") == []


def test_ome_zarr_plate_on_s3_reads_like_its_local_copy(s3):
    _, local = s3
    remote_fields = index_plate("s3://cellpainting-gallery/ome/plate.zarr")
    local_fields = index_plate(local / "plate.zarr")
    assert len(remote_fields) == len(local_fields) == 6
    assert remote_fields["PathName_OrigDNA"].str.startswith("s3://").all()
    np.testing.assert_array_equal(
        read_field(remote_fields.iloc[5]), read_field(local_fields.iloc[5])
    )


def test_throttling_is_retried_with_backoff(s3):
    server, _ = s3
    field = index_plate(PLATE_CSVS + "/load_data.csv.gz").iloc[0]
    name = field["FileName_OrigDNA"]
    server.proxy.arm("503", name, times=2)  # two SlowDowns, then the object
    assert read_field(field).shape == (5, 32, 32)
    assert len(_object_gets(server.proxy.requests, name)) == 3


def test_a_server_that_keeps_failing_gives_one_line_naming_the_object(s3):
    server, _ = s3
    field = index_plate(PLATE_CSVS + "/load_data.csv.gz").iloc[1]
    name = field["FileName_OrigRNA"]
    server.proxy.arm("503", name)
    with pytest.raises(RemoteDataError) as raised:
        read_field(field)
    message = str(raised.value)
    assert "\n" not in message and name in message and "after 3 tries" in message
    assert "run again" in message
    cache = remote.object_cache()
    assert not cache.path_of(field["PathName_OrigRNA"] + name).exists()
    assert not any((cache.root / ".partial").iterdir())  # nothing half-written is left


def test_a_stalled_server_times_out_and_is_named(s3):
    server, _ = s3
    field = index_plate(PLATE_CSVS + "/load_data.csv.gz").iloc[4]
    name = field["FileName_OrigMito"]
    server.proxy.stall_s = 2.0
    server.proxy.arm("stall", name)
    started = time.perf_counter()
    with pytest.raises(RemoteDataError, match=name):
        read_field(field)
    assert time.perf_counter() - started < 30


def test_a_missing_object_is_named_at_once(s3):
    server, _ = s3
    field = index_plate(PLATE_CSVS + "/load_data.csv.gz").iloc[5]
    name = field["FileName_OrigAGP"]
    server.proxy.arm("404", name)
    with pytest.raises(RemoteDataError, match=f"missing object s3://.*{name}"):
        read_field(field)
    assert len(_object_gets(server.proxy.requests, name)) == 1  # not retried


def test_a_bucket_refusing_anonymous_access_says_how_to_sign_in(s3):
    server, _ = s3
    server.proxy.arm("403", "load_data")
    with pytest.raises(RemoteDataError, match="refuses anonymous access.*AWS_PROFILE"):
        index_plate(PLATE_CSVS + "/load_data.csv.gz")


def test_no_load_data_under_a_url_is_one_line(s3):
    with pytest.raises(PlateFormatError, match="no load_data.csv"):
        index_plate("s3://cellpainting-gallery/nothing-here/source_9")


def test_the_cache_stays_under_its_limit_least_recently_used_out(s3, tmp_path):
    fields = index_plate(PLATE_CSVS + "/load_data.csv.gz")
    urls = [f"{row.PathName_OrigDNA}{row.FileName_OrigDNA}" for row in fields.itertuples()]
    one = remote.fetch(urls[0]).stat().st_size
    cache = ObjectCache(tmp_path / "small", max_bytes=int(2.5 * one))
    for url in urls[:3]:
        cache.get(url)
    assert cache.size() <= cache.max_bytes
    assert not cache.path_of(urls[0]).exists() and cache.path_of(urls[2]).exists()
    cache.get(urls[1])
    assert cache.hits == 1 and cache.misses == 3
    assert cache.clear() > 0 and cache.size() == 0


def test_the_napari_reader_opens_an_s3_url(s3):
    from napari_phenoscope._reader import napari_get_reader, read_plate

    reader = napari_get_reader(PLATE_CSVS)
    assert reader is read_plate
    layers = reader(PLATE_CSVS)
    assert [layer[1]["name"] for layer in layers] == ["DNA", "ER", "RNA", "AGP", "Mito"]
    assert layers[0][1]["metadata"]["phenoscope"]["path"].startswith("s3:/")

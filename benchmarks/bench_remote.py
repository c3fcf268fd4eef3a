"""Plates on S3 vs on disk: fetch time per field, profiling fields/s, cache hits, peak memory.

Starts moto's S3 server on 127.0.0.1 (``pip install "moto[server]"``, the test extra),
uploads a LoadData plate of rendered fields and reads it both ways::

    python benchmarks/bench_remote.py --fields 8 --size 1080
    python benchmarks/bench_remote.py --fields 8 --size 1080 --layout zarr  # OME-Zarr plate

Prints, in one run:

1. the server's per-request latency (median HEAD of one object);
2. reading each field (five channels) from disk, from S3 into an empty cache (the five
   channels in parallel), and again from the cache: seconds per field and the ratios;
3. ``profile_plates`` (classical) from disk and from S3 with an empty cache: fields/s;
4. the cache on a revisit of every field: objects fetched and hit rate (for OME-Zarr the
   objects are chunks; the plate's metadata was opened before);
5. this process's peak resident memory.

A local server has no real network in between: the S3 ratio is the cost of the S3 protocol,
s3fs and the cache, not of a WAN (add its latency times ~2 requests per object).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import tifffile

from napari_phenoscope.constants import CHANNELS

BUCKET = "bench-plates"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_plate(folder: Path, n_fields: int, size: int) -> pd.DataFrame:
    from napari_phenoscope.demo.render import render_field

    images = folder / "images"
    images.mkdir(parents=True)
    rows = []
    for index in range(n_fields):
        well = f"{'ABCDEFGHIJKLMNOP'[index // 24]}{index % 24 + 1:02d}"
        field = render_field((5, index), size=size)
        row = {"Metadata_Plate": "BENCH", "Metadata_Well": well, "Metadata_Site": 1}
        for channel, plane in zip(CHANNELS, field.image, strict=True):
            tifffile.imwrite(images / f"{well}_{channel}.tiff", plane)
            row[f"FileName_Orig{channel}"] = f"{well}_{channel}.tiff"
            row[f"PathName_Orig{channel}"] = "images"  # relative: the same CSV on disk and S3
        rows.append(row)
    table = pd.DataFrame(rows)
    table.to_csv(folder / "load_data.csv", index=False)
    return table


def write_plate_zarr(path: Path, n_fields: int, size: int) -> None:
    """The same rendered fields as an OME-Zarr plate (NGFF 0.5), one chunk per plane."""
    import zarr
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata

    from napari_phenoscope.demo.render import render_field

    fmt = FormatV05()
    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    wells = [("ABCDEFGHIJKLMNOP"[index // 24], str(index % 24 + 1)) for index in range(n_fields)]
    rows = sorted({row for row, _ in wells})
    columns = sorted({column for _, column in wells}, key=int)
    paths = [f"{row}/{column}" for row, column in wells]
    write_plate_metadata(root, rows, columns, paths, fmt=fmt, name="BENCH")
    window = {"min": 0, "max": 65535, "start": 0, "end": 65535}
    omero = {"channels": [{"label": c, "color": "FFFFFF", "window": window} for c in CHANNELS]}
    for index, (row, column) in enumerate(wells):
        well = root.require_group(row).require_group(column)
        write_well_metadata(well, [{"path": "0"}], fmt=fmt)
        image = render_field((5, index), size=size).image
        write_image(
            image,
            well.require_group("0"),
            axes="cyx",
            fmt=fmt,
            scale_factors=[],
            storage_options={"chunks": (1, size, size)},
            omero=omero,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=8)
    parser.add_argument("--size", type=int, default=1080)
    parser.add_argument("--layout", choices=("tiff", "zarr"), default="tiff")
    args = parser.parse_args()

    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from napari_phenoscope.io import index_plate, read_field, remote
    from napari_phenoscope.profiling.pipeline import profile_plates

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    work = Path(tempfile.mkdtemp(prefix="phenoscope-bench-remote-"))
    try:
        endpoint = f"http://127.0.0.1:{port}"
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            PHENOSCOPE_S3_ANON="1",
            PHENOSCOPE_S3_CACHE=str(work / "cache"),
        )
        client = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="x", aws_secret_access_key="x",
        )  # fmt: skip
        client.create_bucket(Bucket=BUCKET)
        if args.layout == "zarr":
            write_plate_zarr(work / "plate" / "plate.zarr", args.fields, args.size)
            local_plate, url = work / "plate" / "plate.zarr", f"s3://{BUCKET}/plate/plate.zarr"
            probe = f"{BUCKET}/plate/plate.zarr/zarr.json"
        else:
            write_plate(work / "plate", args.fields, args.size)
            local_plate = work / "plate" / "load_data.csv"
            url = f"s3://{BUCKET}/plate/load_data.csv"
            probe = f"{BUCKET}/plate/load_data.csv"
        for path in (work / "plate").rglob("*"):
            if path.is_file():
                key = f"plate/{path.relative_to(work / 'plate').as_posix()}"
                client.upload_file(str(path), BUCKET, key, ExtraArgs={"ACL": "public-read"})
        print(
            f"{args.fields} fields of {args.size} px ({args.layout}); "
            f"load average {os.getloadavg()}"
        )

        fs = remote.filesystem()
        latencies = []
        for _ in range(20):
            started = time.perf_counter()
            fs.info(probe, refresh=True)
            latencies.append(time.perf_counter() - started)
        print(f"server latency (HEAD, median of 20): {1000 * statistics.median(latencies):.1f} ms")

        local_fields = index_plate(local_plate)
        remote_fields = index_plate(url)
        timings = {}
        for name, fields in (("disk", local_fields), ("s3, empty cache", remote_fields),
                             ("s3, cached", remote_fields)):  # fmt: skip
            started = time.perf_counter()
            for position in range(len(fields)):
                read_field(fields.iloc[position])
            timings[name] = (time.perf_counter() - started) / len(fields)
        for name, seconds in timings.items():
            print(
                f"read a field, {name:16s}: {seconds:.3f} s ({seconds / timings['disk']:.2f}x disk)"
            )

        cache = remote.object_cache()
        misses, hits = cache.misses, cache.hits
        for position in range(len(remote_fields)):
            read_field(remote_fields.iloc[position])
        fetched, hit = cache.misses - misses, cache.hits - hits
        hit_rate = hit / max(1, hit + fetched)
        print(
            f"revisit of {len(remote_fields)} fields: {fetched} objects fetched, "
            f"{hit} cache hits ({100 * hit_rate:.0f}% hit rate)"
        )

        rates = {}
        for name, plate in (("disk", local_plate), ("s3", url)):
            if name == "s3":
                cache.clear()
                if args.layout == "zarr":  # nor the images' metadata opened before
                    from napari_phenoscope.io.omezarr import _image

                    _image.cache_clear()
            out = work / f"profile-{name}"
            started = time.perf_counter()
            profile_plates([plate], out, features="classical", progress=False)
            rates[name] = args.fields / (time.perf_counter() - started)
            shutil.rmtree(out)
        print(
            f"profile (classical): disk {rates['disk']:.3f} fields/s, S3 {rates['s3']:.3f} "
            f"fields/s ({rates['s3'] / rates['disk']:.2f}x)"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak resident memory of this process: {peak:.0f} MiB")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

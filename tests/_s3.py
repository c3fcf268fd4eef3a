"""A real S3 server on 127.0.0.1 for the remote-plate tests: moto in server mode, behind a
small proxy that injects network faults (503 SlowDown, a stall, a missing object, a refusal).

The proxy forwards every request to moto unchanged unless a fault is armed for a path; it
records each request's method and path so tests can check what was (not) asked for.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

#: A fault: what to answer (``"503"``, ``"stall"``, ``"404"``, ``"403"``), to requests whose
#: path contains ``match``, ``times`` times (-1: always).
_ERRORS = {
    "503": (503, "SlowDown", "Please reduce your request rate."),
    "404": (404, "NoSuchKey", "The specified key does not exist."),
    "403": (403, "AccessDenied", "Access Denied"),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Fault:
    kind: str
    match: str
    times: int = -1


@dataclass
class FaultProxy:
    """The proxy's state, shared with its handler threads."""

    upstream_port: int
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    #: Paths of the requests that came signed (an ``Authorization`` header): AWS credentials.
    signed: list[str] = field(default_factory=list)
    stall_s: float = 3.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, kind: str, match: str, times: int = -1) -> None:
        with self.lock:
            self.faults.append(Fault(kind, match, times))

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.requests.clear()
            self.signed.clear()

    def fault_for(self, method: str, path: str, signed: bool = False) -> str | None:
        with self.lock:
            self.requests.append((method, path))
            if signed:
                self.signed.append(path)
            for fault in self.faults:
                if fault.match in path and fault.times != 0:
                    fault.times -= 1
                    return fault.kind
        return None


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            fault = proxy.fault_for(self.command, self.path, "Authorization" in self.headers)
            if fault == "stall":
                time.sleep(proxy.stall_s)
                self.close_connection = True
                return
            if fault in _ERRORS:
                status, code, message = _ERRORS[fault]
                payload = (
                    f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                    f"<Message>{message}</Message></Error>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header(
                    "Content-Length", str(0 if self.command == "HEAD" else len(payload))
                )
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                return
            upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            headers["Host"] = f"127.0.0.1:{proxy.upstream_port}"
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            upstream.close()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    return Handler


@dataclass
class S3Server:
    """moto on one port, the fault proxy on another; ``endpoint`` is the proxy's URL."""

    endpoint: str
    moto_endpoint: str
    proxy: FaultProxy


def start_s3_server() -> tuple[S3Server, object, ThreadingHTTPServer]:
    """Start moto and the proxy on free ports of 127.0.0.1 (stop both when done)."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    proxy = FaultProxy(upstream_port=moto_port)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server = S3Server(
        endpoint=f"http://127.0.0.1:{httpd.server_address[1]}",
        moto_endpoint=f"http://127.0.0.1:{moto_port}",
        proxy=proxy,
    )
    return server, moto, httpd


def s3_client(endpoint: str):
    """A boto3 client of the test server (moto takes any credentials)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def upload_tree(client, folder: Path, bucket: str, prefix: str) -> list[str]:
    """Upload every file under ``folder`` to ``s3://bucket/prefix/<relative path>``."""
    keys = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(folder).as_posix()}"
            # public, like the Gallery: moto (as S3) refuses unsigned reads of private objects
            client.upload_file(str(path), bucket, key, ExtraArgs={"ACL": "public-read"})
            keys.append(key)
    return keys


#: The bucket the Gallery's own CSVs name, recreated on the test server.
BUCKET = "cellpainting-gallery"
#: A Gallery source of rendered fields with real-looking cells (for profiles).
CELLS_SOURCE = "test/source_cells"
CELLS_BATCH, CELLS_PLATE = "2024_01_01_Batch1", "PLATECELLS"
CELLS_WELLS = ("A01", "B02")


def write_cells_gallery(
    root: Path,
    size: int = 128,
    wells: tuple[str, ...] = CELLS_WELLS,
    source_key: str = CELLS_SOURCE,
) -> Path:
    """``<root>/<source>``: a Gallery-layout plate of rendered cells, CSV naming S3 (the
    source's key in ``BUCKET`` is ``source_key``, its folder here the key's last part)."""
    import pandas as pd
    import tifffile

    from conftest import phenix_name
    from napari_phenoscope.constants import CHANNELS
    from napari_phenoscope.demo.render import render_field

    source = root / source_key.rsplit("/", 1)[-1]
    plate_dir = f"{CELLS_PLATE}__2024-01-02T10_00_00-Measurement1"
    images = source / "images" / CELLS_BATCH / "images" / plate_dir / "Images"
    images.mkdir(parents=True)
    folder = f"s3://{BUCKET}/{source_key}/images/{CELLS_BATCH}/images/{plate_dir}/Images/"
    rows = []
    for index, well in enumerate(wells):
        field = render_field((7, index), size=size)
        row = {"Metadata_Plate": CELLS_PLATE, "Metadata_Well": well, "Metadata_Site": 1}
        for channel, plane in zip(CHANNELS, field.image, strict=True):
            name = phenix_name(well, 1, channel)
            tifffile.imwrite(images / name, plane)
            row[f"FileName_Orig{channel}"] = name
            row[f"PathName_Orig{channel}"] = folder
        rows.append(row)
    csv_dir = source / "workspace" / "load_data_csv" / CELLS_BATCH / CELLS_PLATE
    csv_dir.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(csv_dir / "load_data.csv", index=False)
    return source


#: An OME-Zarr HCS plate of the same rendered cells as ``write_cells_gallery``, on S3 here.
CELLS_ZARR = "test/cells.zarr"


def write_cells_ome_zarr(path: Path, size: int = 128, version: str = "0.5") -> Path:
    """The fields of ``write_cells_gallery`` as an OME-Zarr plate (chunks of a quarter
    plane, two resolution levels), for profiles from S3 against the same plate on disk."""
    import numpy as np

    from _layouts import write_ome_zarr_plate
    from napari_phenoscope.constants import CHANNELS
    from napari_phenoscope.demo.render import render_field

    wells = {f"{well[0]}{int(well[1:]):02d}": index for index, well in enumerate(CELLS_WELLS)}

    def planes(well: str, site: int) -> np.ndarray:
        return render_field((7, wells[well]), size=size).image.astype(np.uint16)

    return write_ome_zarr_plate(
        path,
        version=version,
        labels=list(CHANNELS),
        wells=tuple(f"{well[0]}/{int(well[1:])}" for well in CELLS_WELLS),
        fields=1,
        shape=(size, size),
        chunks=(1, size // 2, size // 2),
        levels=2,
        planes=planes,
    )

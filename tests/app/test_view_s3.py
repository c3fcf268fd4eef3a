"""``phenoscope view PROFILES --images s3://...`` in a real viewer (run under xvfb-run): a click
on a well in the Profile map opens its field from the plate on S3 (moto's server on
127.0.0.1, tests/_s3.py), through the object cache; going back to a field fetches nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from test_profile_map import click_at

from _s3 import BUCKET, s3_client, upload_tree, write_cells_gallery
from napari_phenoscope._widgets._viewer import field_key
from napari_phenoscope.app.view import open_profiles_viewer
from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.io import remote
from napari_phenoscope.profiling.pipeline import profile_plates
from napari_phenoscope.session.state import state_of

pytestmark = pytest.mark.gui

SOURCE_KEY = "test/source_cells6"
WELLS = ("A01", "A02", "B01", "B02", "C01", "C02")  # a map needs four wells or more
URL = f"s3://{BUCKET}/{SOURCE_KEY}"


@pytest.fixture(scope="module")
def six_wells(s3_server, tmp_path_factory) -> Path:
    """A six-well Gallery plate of rendered cells on the test server; its local copy."""
    server, _ = s3_server
    local = write_cells_gallery(
        tmp_path_factory.mktemp("cells6"), size=96, wells=WELLS, source_key=SOURCE_KEY
    )
    upload_tree(s3_client(server.moto_endpoint), local, BUCKET, SOURCE_KEY)
    return local


def _tiff_gets(server) -> list[str]:
    return [path for method, path in server.proxy.requests if method == "GET" and ".tif" in path]


def _shown_well(viewer) -> str:
    return field_key(state_of(viewer).session)[1]


def test_clicking_a_well_on_the_map_opens_its_field_from_s3(
    s3, six_wells, make_napari_viewer, qtbot, tmp_path
):
    server, _ = s3
    outputs = profile_plates(
        [URL], tmp_path / "out", features="classical", qc="off", progress=False
    )
    remote.object_cache().clear()  # as on a machine that has only the profiles
    server.proxy.requests.clear()
    viewer = make_napari_viewer()
    viewer.window._qt_window.resize(1680, 1180)
    docks = open_profiles_viewer([outputs.well_profiles["classical"]], images=URL, viewer=viewer)
    assert _shown_well(viewer) == "A01" and len(_tiff_gets(server)) == 5  # that field only

    widget = docks.profile_map
    # generous: UMAP's numba compilation alone takes minutes on a loaded 2-core machine
    qtbot.waitUntil(lambda: not widget.running, timeout=600_000)
    assert widget.embedding is not None, widget.status.text()
    widget.canvas.draw()
    embedding = widget.embedding
    wells = [key[1] for key in widget.index.keys]
    target = next(
        i for i in range(len(wells)) if wells[i] != "A01" and isolated(embedding, widget, i)
    )
    server.proxy.requests.clear()
    click_at(widget, embedding[target])
    qtbot.waitUntil(lambda: not widget.opening_field, timeout=60_000)
    assert _shown_well(viewer) == wells[target]
    fetched = _tiff_gets(server)
    row, column = "ABC".index(wells[target][0]) + 1, int(wells[target][1:])
    assert len(fetched) == 5 and all(f"r{row:02d}c{column:02d}" in p for p in fetched)
    plate = pd.read_csv(next(six_wells.rglob("load_data.csv"))).set_index("Metadata_Well")
    images = six_wells / "images"
    for channel in CHANNELS:  # the plate's own pixels on show
        name = plate.loc[wells[target], f"FileName_Orig{channel}"]
        np.testing.assert_array_equal(
            np.asarray(viewer.layers[channel].data), tifffile.imread(next(images.rglob(name)))
        )
        url = "s3:/" + next(path for path in fetched if path.endswith(name))
        assert remote.object_cache().path_of(url).is_file()  # kept in the cache
    docks.show("Profile map")
    viewer.screenshot(str(tmp_path / "view_s3_click.png"), canvas_only=False)

    # back to the first well: its field is read from the cache, nothing is fetched
    server.proxy.requests.clear()
    assert isolated(embedding, widget, wells.index("A01"))
    click_at(widget, embedding[wells.index("A01")])
    qtbot.waitUntil(lambda: not widget.opening_field, timeout=60_000)
    assert _shown_well(viewer) == "A01" and _tiff_gets(server) == []


def isolated(embedding: np.ndarray, widget, index: int) -> bool:
    """No other point within 3 pixels of point ``index``: a click on it is unambiguous."""
    pixels = widget.axes.transData.transform(embedding)
    distances = np.linalg.norm(pixels - pixels[index], axis=1)
    distances[index] = np.inf
    return bool(distances.min() > 3)

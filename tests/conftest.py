"""Shared fixtures: small plates written in the real CPJUMP1 folder layout."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from filelock import FileLock

from _shared_guard import pytest_runtest_call, pytest_runtest_protocol  # noqa: F401 (hooks)
from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CHANNELS,
    CONTROL_TYPE,
    CPJUMP1_CHANNEL_MAP,
    MODALITY,
    PERT_TYPE,
    PLATE,
    TARGET_LIST,
    WELL,
    well_row_col,
)

#: pytester runs small suites in a subprocess (tests/test_shared_guard.py)
pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
#: The team's data folder beside the repository. A fresh clone has none; CI proves that the
#: suite still passes by pointing PHENOSCOPE_SHARED at a folder that does not exist.
SHARED = Path(os.environ.get("PHENOSCOPE_SHARED") or REPO.parent / "shared")
REAL_FIELDS = SHARED / "data" / "real-cellpainting"
JUMP_TARGET = SHARED / "data" / "jump-target"
REAL_PROFILES = SHARED / "data" / "real-profiles"
#: Fixtures that read ../shared (each skips when it is absent); their tests get the `shared`
#: mark. Any other test that reads it fails (tests/_shared_guard.py).
SHARED_FIXTURES = {"real_fields", "shared_jump_target", "real_profiles"}
CHANNEL_NUMBER = {name: number for number, name in CPJUMP1_CHANNEL_MAP.items()}


def phenix_name(well: str, site: int, channel: str, plane: int = 1) -> str:
    """Phenix file name of a channel image (CPJUMP1 numbering)."""
    row, col = well_row_col(well)
    number = CHANNEL_NUMBER[channel]
    return f"r{row:02d}c{col:02d}f{site:02d}p{plane:02d}-ch{number}sk1fk1fl1.tiff"


def channel_value(well: str, site: int, channel: str) -> int:
    """A distinct constant per (well, site, channel), so tests can tell planes apart."""
    row, col = well_row_col(well)
    return 1000 * CHANNELS.index(channel) + 10 * row + col + site


def write_tiny_plate(
    root: Path,
    barcode: str = "BR00116991",
    wells: tuple[str, ...] = ("A01", "A02", "B03"),
    sites: tuple[int, ...] = (1, 2),
    size: int = 32,
    plate_map: str = "compound",
) -> Path:
    """Write a small CPJUMP1-layout project: images, plate map and external metadata."""
    images = root / "images" / f"{barcode}__2020-11-05T19_51_35-Measurement1" / "Images"
    images.mkdir(parents=True)
    for well in wells:
        for site in sites:
            for channel in CHANNELS:
                plane = np.full((size, size), channel_value(well, site, channel), np.uint16)
                tifffile.imwrite(images / phenix_name(well, site, channel), plane)
    bundled = resources.files("napari_phenoscope") / "data" / "jump_target"
    batch = root / "metadata" / "platemaps" / "2020_11_04_CPJUMP1"
    (batch / "platemap").mkdir(parents=True)
    map_name = f"JUMP-Target-1_{plate_map}_platemap"
    (batch / "barcode_platemap.csv").write_text(
        f"Assay_Plate_Barcode,Plate_Map_Name\n{barcode},{map_name}\n"
    )
    with resources.as_file(bundled / f"{plate_map}_platemap.tsv") as source:
        shutil.copy(source, batch / "platemap" / f"{map_name}.txt")
    external = root / "metadata" / "external_metadata"
    external.mkdir(parents=True)
    for modality in ("compound", "crispr", "orf"):
        with resources.as_file(bundled / f"{modality}_metadata.tsv") as source:
            shutil.copy(source, external / f"JUMP-Target-1_{modality}_metadata.tsv")
    return root


@pytest.fixture
def tiny_plate(tmp_path: Path) -> Path:
    """A three-well, two-site compound plate in the CPJUMP1 layout."""
    return write_tiny_plate(tmp_path / "project")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that read ../shared, so that CI can rerun them with it hidden."""
    for item in items:
        if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared)


def _shared_or_skip(folder: Path) -> Path:
    if not folder.is_dir():
        pytest.skip(f"{folder} is not there (../shared is not beside the repository)")
    return folder


@pytest.fixture
def real_fields() -> Path:
    """The real Cell Painting Gallery fields (skips if ../shared is absent)."""
    return _shared_or_skip(REAL_FIELDS)


@pytest.fixture
def shared_jump_target() -> Path:
    """The JUMP-Target-1 tables as downloaded to ../shared (skips if absent)."""
    return _shared_or_skip(JUMP_TARGET)


@pytest.fixture(scope="session")
def real_profiles() -> Path:
    """Real CellProfiler outputs (per-object CSVs, a pycytominer table; skips if absent)."""
    return _shared_or_skip(REAL_PROFILES)


@pytest.fixture
def bundled_jump_target() -> Path:
    """The JUMP-Target-1 tables the package bundles (always there)."""
    folder = resources.files("napari_phenoscope") / "data" / "jump_target"
    return Path(str(folder))


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest's temporary folder of this run, the same for every pytest-xdist worker.

    Each worker's ``getbasetemp()`` is ``<run>/popen-gw<N>``; without xdist it is ``<run>``
    itself (its parent then holds earlier runs, which must not be reused).
    """
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]
) -> Path:
    """``<run>/shared-fixtures/<name>``, filled by ``build(folder)`` once per test run.

    The first worker to get here builds it under a file lock; the others wait for the lock
    and reuse the folder, so an expensive session fixture costs once per run, not once per
    xdist worker. A folder without its ``.done`` mark (a build that raised) is built again.
    """
    shared = run_folder(tmp_path_factory) / "shared-fixtures"
    shared.mkdir(exist_ok=True)
    folder, done = shared / name, shared / f"{name}.done"
    with FileLock(shared / f"{name}.lock"):
        if not done.is_file():
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo project (what the sample data and quick start use), written once
    per run (``ensure_demo_plates`` locks its cache folder: one xdist worker renders it).

    PHENOSCOPE_CACHE points at a folder of the run so that code calling
    ``ensure_demo_plates()`` itself (the sample data, the docks) finds this same project.
    """
    from napari_phenoscope.demo.project import ensure_demo_plates

    cache = run_folder(tmp_path_factory) / "phenoscope-cache"
    cache.mkdir(exist_ok=True)
    os.environ["PHENOSCOPE_CACHE"] = str(cache)
    return ensure_demo_plates(progress=False)


#: A small rendered plate with real-looking cells (12 wells, one 128 px field each, per modality).
SMALL_DEMO = {"n_wells": 12, "n_sites": 1, "size": 128, "n_replicates": 1}


@pytest.fixture(scope="session")
def small_demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo plates small enough to profile in seconds, rendered once per run
    (read-only: copy before changing)."""
    from napari_phenoscope.demo import write_demo_plates

    def render(folder: Path) -> None:
        write_demo_plates(folder / "project", progress=False, **SMALL_DEMO)

    return build_once(tmp_path_factory, "small-demo", render) / "project"


def copy_compound_plate(project: Path, destination: Path) -> Path:
    """Copy the compound plate of a demo project (images + metadata) to change it safely."""
    images = next((project / "images").glob("BR00116991__*"))
    shutil.copytree(images, destination / "images" / images.name)
    shutil.copytree(project / "metadata", destination / "metadata")
    return destination


PROFILE_FEATURES = [f"feature_{i}" for i in range(6)]


def valid_well_profiles(seed: int = 0) -> pd.DataFrame:
    """A valid table for ``phenoscope evaluate``: two compound plates, each with 4 negcon
    wells and the same 6 compounds (replicates across plates) on 3 target genes."""
    rng = np.random.default_rng(seed)
    rows = []
    for plate in ("P1", "P2"):
        for k in range(4):
            rows.append(
                {
                    PLATE: plate,
                    WELL: f"A{k + 1:02d}",
                    BROAD_SAMPLE: "",
                    MODALITY: "compound",
                    TARGET_LIST: "",
                    PERT_TYPE: "control",
                    CONTROL_TYPE: "negcon",
                }
            )
        for k in range(6):
            rows.append(
                {
                    PLATE: plate,
                    WELL: f"B{k + 1:02d}",
                    BROAD_SAMPLE: f"BRD-{k}",
                    MODALITY: "compound",
                    TARGET_LIST: f"G{k % 3}",
                    PERT_TYPE: "trt",
                    CONTROL_TYPE: "",
                }
            )
    table = pd.DataFrame(rows)
    signal = {f"BRD-{k}": rng.normal(size=len(PROFILE_FEATURES)) * 3 for k in range(6)}
    values = [
        signal.get(sample, 0) + rng.normal(size=len(PROFILE_FEATURES))
        for sample in table[BROAD_SAMPLE]
    ]
    return pd.concat([table, pd.DataFrame(np.array(values), columns=PROFILE_FEATURES)], axis=1)


def painted_cells(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A small two-channel field whose cells exercise CellProfiler's edge cases.

    Touching cells, a cell cut by the image border, a cell without a nucleus, a cell too
    small for a texture offset of 3, a cell so dim that it quantises to grey level 0, and
    label numbers with gaps. Returns (image (2, Y, X) uint16, nuclei, cells).
    """
    from scipy import ndimage
    from skimage.draw import disk, ellipse

    rng = np.random.default_rng(seed)
    shape = (140, 180)
    cells = np.zeros(shape, np.int32)
    nuclei = np.zeros(shape, np.int32)
    # (label, centre, radii, nucleus radius or 0)
    layout = [
        (3, (35, 40), (22, 28), 9),
        (7, (35, 88), (20, 24), 8),  # touches cell 3
        (8, (100, 50), (25, 18), 0),  # no nucleus
        (12, (110, 170), (24, 20), 7),  # cut by the right border
        (15, (95, 115), (14, 14), 6),  # dim
        (20, (10, 150), (2, 2), 0),  # smaller than the texture offset
    ]
    for label, centre, radii, nucleus in layout:
        rows, cols = ellipse(*centre, *radii, shape=shape)
        free = cells[rows, cols] == 0
        cells[rows[free], cols[free]] = label
        if nucleus:
            rows, cols = disk(centre, nucleus, shape=shape)
            nuclei[rows, cols] = label
    spots = ndimage.gaussian_filter(rng.gamma(0.3, 1.0, shape), 1.5)
    smooth = ndimage.gaussian_filter(rng.normal(size=shape), 6)
    image = np.stack(
        [
            4000 + 60000 * spots / spots.max(),
            20000 + 8000 * smooth / np.abs(smooth).max() + rng.normal(0, 800, shape),
        ]
    )
    image[:, cells == 15] = rng.uniform(0, 120, (2, int((cells == 15).sum())))
    return image.clip(0, 65535).astype(np.uint16), nuclei, cells


def cp_measure_columns(
    image: np.ndarray,
    nuclei: np.ndarray,
    cells: np.ndarray,
    channels: tuple[str, ...],
    group: str,
    compartments: tuple[str, ...] = ("Cells", "Nuclei", "Cytoplasm"),
    **options,
):
    """cp_measure's (CellProfiler's) measurements of one group, named as measure_cells names them.

    ``group`` is ``texture``, ``granularity`` or ``radial``. Compartments are built as
    measure_cells builds them. Returns a DataFrame indexed by cell label; objects absent from
    a compartment (a cell without a nucleus) are left out of that compartment's columns.
    """
    import pandas as pd
    from cp_measure.core import measuregranularity, measuretexture
    from cp_measure.core import measureobjectintensitydistribution as radial
    from skimage.segmentation import relabel_sequential

    scaled = image.astype(np.float64) / np.iinfo(image.dtype).max
    labels_of = {
        "Cells": cells,
        "Nuclei": np.where(nuclei > 0, cells, 0),
        "Cytoplasm": np.where(nuclei > 0, 0, cells),
    }
    columns = {}
    for compartment in compartments:
        dense, _, inverse = relabel_sequential(labels_of[compartment])
        ids = np.asarray(inverse[1 : int(dense.max()) + 1])
        for plane, channel in zip(scaled, channels, strict=True):
            if group == "texture":
                for scale in options.get("scales", (3,)):
                    found = measuretexture.get_texture(
                        dense, plane, scale=scale, gray_levels=options.get("levels", 256)
                    )
                    for key, values in found.items():
                        feature, rest = key.split("_", 1)
                        name = f"{compartment}_Texture_{feature}_{channel}_{rest}"
                        columns[name] = pd.Series(values, index=ids)
            elif group == "granularity":
                for key, values in measuregranularity.get_granularity(dense, plane).items():
                    scale = key.split("_")[1]
                    name = f"{compartment}_Granularity_{scale}_{channel}"
                    columns[name] = pd.Series(values, index=ids)
            else:
                # cp_measure divides by zero where it leaves a value undefined (NaN)
                with np.errstate(divide="ignore", invalid="ignore"):
                    found = radial.get_radial_distribution(dense, plane)
                for key, values in found.items():
                    _, feature, ring = key.split("_")
                    name = f"{compartment}_RadialDistribution_{feature}_{channel}_{ring}"
                    columns[name] = pd.Series(values, index=ids)
    return pd.DataFrame(columns)


@pytest.fixture(scope="session")
def small_demo(small_demo_project: Path) -> Path:
    """The demo project at its smallest, for the tour and story tests: the same plates as
    ``small_demo_project`` (12 wells per plate, one 128 px site, one replicate; read-only)."""
    return small_demo_project


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory):
    """moto's S3 server on 127.0.0.1 behind a fault-injecting proxy (tests/_s3.py), holding
    the Gallery-layout plates of tests/_layouts.py and an OME-Zarr plate, written once.

    Yields (server, local copy of the uploaded tree: ``source_4``, ``source_cells``,
    ``plate.zarr``).
    """
    pytest.importorskip("moto.server", reason="moto[server] (the test extra) is not installed")
    from _layouts import write_gallery_source, write_ome_zarr_plate
    from _s3 import (
        BUCKET,
        CELLS_SOURCE,
        s3_client,
        start_s3_server,
        upload_tree,
        write_cells_gallery,
    )

    server, moto, proxy = start_s3_server()
    local = tmp_path_factory.mktemp("s3-data")
    client = s3_client(server.moto_endpoint)
    client.create_bucket(Bucket=BUCKET)
    upload_tree(client, write_gallery_source(local), BUCKET, "cpg0016-jump/source_4")
    upload_tree(client, write_cells_gallery(local), BUCKET, CELLS_SOURCE)
    upload_tree(client, write_ome_zarr_plate(local / "plate.zarr"), BUCKET, "ome/plate.zarr")
    yield server, local
    proxy.shutdown()
    moto.stop()


@pytest.fixture
def s3(s3_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The test S3 server as phenoscope's endpoint: anonymous, a fresh object cache, two
    retries with short backoff and a 1 s timeout, no faults armed."""
    from napari_phenoscope.io import remote

    server, local = s3_server
    server.proxy.reset()
    for name in (
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL_S3",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv(remote.CACHE_DIR_ENV, str(tmp_path / "s3-cache"))
    monkeypatch.setenv(remote.RETRIES_ENV, "2")
    monkeypatch.setenv(remote.TIMEOUT_ENV, "1")
    monkeypatch.setattr(remote, "BACKOFF_S", 0.05)
    yield server, local
    server.proxy.reset()


#: The wells of ``profiled_small_demo``: BI-2536, PFI-1, PLK1, BRD4 and CDK7 knockouts, controls.
EXPLAIN_WELLS = "A02,P10,E21,I14,K10,F13,G09,J16,M19,A13,P12,E12"


@pytest.fixture(scope="session")
def profiled_small_demo(small_demo_project: Path, tmp_path_factory) -> tuple[Path, Path]:
    """(plates, profile output) of a few wells of ``small_demo_project``, ViT and classical,
    profiled once per run (read-only)."""
    from napari_phenoscope.cli import main

    def profile(folder: Path) -> None:
        argv = [str(small_demo_project), "--out", str(folder / "out"), "--features", "both"]
        argv += ["--no-progress", "--wells", EXPLAIN_WELLS, "--device", "cpu"]
        assert main(["profile", *argv]) == 0

    return small_demo_project, build_once(tmp_path_factory, "profiled-small-demo", profile) / "out"

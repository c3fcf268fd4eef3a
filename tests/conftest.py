"""Shared fixtures: small plates written in the real CPJUMP1 folder layout."""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

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

REPO = Path(__file__).resolve().parents[1]
#: The team's data folder beside the repository. A fresh clone has none; CI proves that the
#: suite still passes by pointing PHENOSCOPE_SHARED at a folder that does not exist.
SHARED = Path(os.environ.get("PHENOSCOPE_SHARED") or REPO.parent / "shared")
REAL_FIELDS = SHARED / "data" / "real-cellpainting"
JUMP_TARGET = SHARED / "data" / "jump-target"
#: Fixtures that read ../shared (each skips when it is absent); their tests get the `shared` mark.
SHARED_FIXTURES = {"real_fields", "shared_jump_target"}
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


@pytest.fixture
def bundled_jump_target() -> Path:
    """The JUMP-Target-1 tables the package bundles (always there)."""
    folder = resources.files("napari_phenoscope") / "data" / "jump_target"
    return Path(str(folder))


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo project (what the sample data and quick start use), written once.

    PHENOSCOPE_CACHE points at a session folder so that code calling
    ``ensure_demo_plates()`` itself (the sample data, the docks) finds this same project.
    """
    from napari_phenoscope.demo.project import ensure_demo_plates

    cache = tmp_path_factory.mktemp("phenoscope-cache")
    os.environ["PHENOSCOPE_CACHE"] = str(cache)
    return ensure_demo_plates(progress=False)


#: A small rendered plate with real-looking cells (12 wells, one 128 px field each, per modality).
SMALL_DEMO = {"n_wells": 12, "n_sites": 1, "size": 128, "n_replicates": 1}


@pytest.fixture(scope="session")
def small_demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo plates small enough to profile in seconds (read-only: copy before changing)."""
    from napari_phenoscope.demo import write_demo_plates

    root = tmp_path_factory.mktemp("small-demo") / "project"
    write_demo_plates(root, progress=False, **SMALL_DEMO)
    return root


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

"""Shared fixtures: small plates written in the real CPJUMP1 folder layout."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_phenoscope.constants import CHANNELS, CPJUMP1_CHANNEL_MAP, well_row_col

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL_FIELDS = SHARED / "data" / "real-cellpainting"
JUMP_TARGET = SHARED / "data" / "jump-target"
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


@pytest.fixture
def real_fields() -> Path:
    """The real Cell Painting Gallery fields (skips if ../shared is absent)."""
    if not REAL_FIELDS.is_dir():
        pytest.skip("../shared/data/real-cellpainting is not beside the repository")
    return REAL_FIELDS


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo project (what the sample data and quick start use), written once.

    PHENOSCOPE_CACHE points at a session folder so that code calling
    ``ensure_demo_plates()`` itself (the sample data, the docks) finds this same project.
    """
    import os

    from napari_phenoscope.demo.project import ensure_demo_plates

    cache = tmp_path_factory.mktemp("phenoscope-cache")
    os.environ["PHENOSCOPE_CACHE"] = str(cache)
    return ensure_demo_plates(progress=False)

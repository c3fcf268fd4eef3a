"""npe2 reader: drop a plate folder, a load_data.csv or a TIFF on napari to open it.

Only napari's reader contribution (``napari.yaml``: ``napari_get_reader``): a field as
layer data, which the docks and the sample data share, is ``io.field_layers``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from napari_phenoscope.constants import CHANNELS, PHENIX_FILENAME
from napari_phenoscope.errors import PhenoscopeError
from napari_phenoscope.io import index_plate, is_gallery_path, is_remote, resolve_pixel_size
from napari_phenoscope.io.field_layers import LayerData, field_layer_data
from napari_phenoscope.io.omezarr import is_hcs_plate


def napari_get_reader(path: str | list[str]) -> Callable[[str], list[LayerData]] | None:
    """Return ``read_plate`` if ``path`` is a plate Phenoscope recognises, else None.

    Cheap (names, headers and TIFF tags; no pixels), and strict, so that napari offers
    Phenoscope only for what it can open: a folder of Phenix-named images (directly or
    under ``images/``), a Cell Painting Gallery folder, an OME-Zarr HCS plate, a LoadData
    CSV, a Phenix-named TIFF, or a five-plane (5, Y, X) grey-level TIFF stack. Anything
    else (a photo, a 2-D image, an RGB TIFF, a table of numbers) is left to other readers.
    """
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    if is_remote(path):  # s3://: indexed from its CSVs or zarr metadata when read
        return read_plate
    candidate = Path(path)
    if candidate.is_dir():
        looks_like_plate = (
            _is_hcs_zarr(candidate)
            or is_gallery_path(candidate)
            or _has_phenix_images(candidate / "images")
            or _has_phenix_images(candidate)
        )
        return read_plate if looks_like_plate else None
    if candidate.name.lower().endswith((".csv", ".csv.gz")):
        return read_plate if "FileName_Orig" in _first_line(candidate) else None
    if candidate.suffix.lower() in (".tif", ".tiff"):
        if PHENIX_FILENAME.match(candidate.name) or _is_five_plane_stack(candidate):
            return read_plate
    return None


def _is_hcs_zarr(folder: Path) -> bool:
    return is_hcs_plate(folder)


def _has_phenix_images(folder: Path) -> bool:
    """A folder whose TIFFs (searched below it) are named as the Phenix names them."""
    return folder.is_dir() and any(PHENIX_FILENAME.match(p.name) for p in _first_files(folder))


def _is_five_plane_stack(path: Path) -> bool:
    """A (5, Y, X) grey-level stack: one plane per Cell Painting channel (from the tags)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tiff:
            series = tiff.series[0]
            shape, photometric = series.shape, tiff.pages[0].photometric
    except Exception:  # not a TIFF tifffile can parse: not ours to claim
        return False
    rgb = photometric in (tifffile.PHOTOMETRIC.RGB, tifffile.PHOTOMETRIC.PALETTE)
    return len(shape) == 3 and shape[0] == len(CHANNELS) and not rgb


def _first_line(path: Path) -> str:
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            return handle.readline()
    except OSError:
        return ""


def _first_files(folder: Path, limit: int = 200) -> list[Path]:
    found = []
    for path in folder.rglob("*.tif*"):
        found.append(path)
        if len(found) >= limit:
            break
    return found


def read_plate(path: str | list[str]) -> list[LayerData]:
    """Open a plate and show its first field as five channel layers (lazy, dask)."""
    if isinstance(path, list):
        path = path[0]
    try:
        fields = index_plate(path)
        layers = field_layer_data(fields, 0, source=Path(path))  # reads the first field
    except PhenoscopeError as error:
        # napari shows reader errors as notifications; keep the message to one line.
        raise ValueError(str(error)) from None
    pixel_size = resolve_pixel_size(fields)
    for _, kwargs, _ in layers:
        # in um where the images say so (the scale bar reads um), else in the field's pixels
        kwargs.update(
            scale=(pixel_size, pixel_size) if pixel_size else (1.0, 1.0),
            units="um" if pixel_size else "pixel",
        )
    return layers

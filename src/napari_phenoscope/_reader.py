"""npe2 reader: drop a plate folder, a load_data.csv or a TIFF on napari to open it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNEL_COLORMAPS, CHANNELS, PHENIX_FILENAME
from napari_phenoscope.errors import PhenoscopeError
from napari_phenoscope.io import (
    available_channels,
    channel_path,
    index_plate,
    is_gallery_path,
    is_illum_corrected,
    is_remote,
    read_field,
    resolve_pixel_size,
)

LayerData = tuple[Any, dict[str, Any], str]
METADATA_KEY = "phenoscope"


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
    from napari_phenoscope.io.omezarr import is_hcs_plate

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


def robust_contrast_limits(
    plane: np.ndarray, low: float = 0.5, high: float = 99.8
) -> tuple[float, float]:
    """Percentile contrast limits, widened if the plane is (nearly) constant."""
    sample = plane[:: max(1, plane.shape[0] // 512), :: max(1, plane.shape[1] // 512)]
    lower, upper = (float(v) for v in np.percentile(sample, [low, high]))
    if upper <= lower:
        upper = lower + 1.0
    return lower, upper


def field_layer_data(
    fields: pd.DataFrame, index: int, source: Path | None = None
) -> list[LayerData]:
    """Layer data for one field: one Image layer per available channel, DNA first.

    Only this field is read, each plane once: its contrast limits come from its own
    percentiles, and the plane read for them is the layer's data (a lazy plane handed to
    napari was read again on every refresh: three reads per channel per field change).
    The field index travels in ``metadata['phenoscope']`` so the dock widgets can
    navigate the plate.
    """
    record = fields.iloc[index].to_dict()
    channels = available_channels(record)
    corrected = is_illum_corrected(record)
    layers: list[LayerData] = []
    stack = read_field(record, channels) if channels else np.zeros((0, 0, 0), np.uint16)
    for channel, plane in zip(channels, stack, strict=True):
        limits = robust_contrast_limits(plane)
        layers.append(
            (
                plane,
                {
                    "name": channel,
                    "colormap": CHANNEL_COLORMAPS[channel],
                    "blending": "additive",
                    "contrast_limits": limits,
                    "metadata": {
                        METADATA_KEY: {
                            "source": str(source) if source else None,
                            "fields": fields,
                            "field": index,
                            "channel": channel,
                            "path": str(channel_path(record, channel)),
                            "illum_corrected": corrected,
                        }
                    },
                },
                "image",
            )
        )
    missing = [c for c in CHANNELS if c not in channels]
    if missing and layers:
        layers[0][1]["metadata"][METADATA_KEY]["missing_channels"] = missing
    return layers

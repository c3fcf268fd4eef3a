"""Physical pixel size (um per pixel) from image metadata: OME, ImageJ, TIFF tags, NGFF.

Real 20x Cell Painting fields are 0.6-0.7 um/px. Baseline TIFF resolution tags are only
trusted inside ``PLAUSIBLE_UM`` because instruments often write something else there:
Phenix/Opera exports (every Cell Painting Gallery TIFF) carry the camera's 6.5 um sensor
pixel, not the sample's. OME and ImageJ metadata, and NGFF scales with a unit, are trusted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import tifffile

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io.fields import channel_path
from napari_phenoscope.io.omezarr import is_ome_zarr, ome_zarr_pixel_size
from napari_phenoscope.io.remote import is_remote, localize

#: Sample pixel sizes (um) a light microscope produces; tags outside it are not believed.
PLAUSIBLE_UM: tuple[float, float] = (0.05, 5.0)

_OME_UNIT_TO_UM = {"µm": 1.0, "um": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6}
_RESOLUTION_UNIT_TO_UM = {2: 25_400.0, 3: 10_000.0}  # INCH, CENTIMETER


def _plausible(size: float | None) -> float | None:
    if size is None or not PLAUSIBLE_UM[0] <= size <= PLAUSIBLE_UM[1]:
        return None
    return float(size)


def tiff_pixel_size(path: str | Path) -> float | None:
    """Pixel size (um) of a TIFF: OME-XML ``PhysicalSizeX``, ImageJ unit, or resolution tags.

    Returns None when the file says nothing believable (see module notes).
    """
    try:
        with tifffile.TiffFile(path) as tiff:
            if tiff.is_ome and tiff.ome_metadata:
                size = _ome_physical_size(tiff.ome_metadata)
                if size is not None:
                    return size
            page = tiff.pages[0]
            resolution = page.tags.get("XResolution")
            if resolution is None:
                return None
            numerator, denominator = resolution.value
            if not numerator or not denominator:
                return None
            pixels_per_unit = numerator / denominator
            imagej_unit = (tiff.imagej_metadata or {}).get("unit", "")
            if tiff.is_imagej and imagej_unit in ("micron", "um", "µm", "\\u00B5m"):
                return float(1.0 / pixels_per_unit)
            unit = int(page.tags["ResolutionUnit"].value) if "ResolutionUnit" in page.tags else 1
            if unit not in _RESOLUTION_UNIT_TO_UM:
                return None
            return _plausible(_RESOLUTION_UNIT_TO_UM[unit] / pixels_per_unit)
    except (OSError, ValueError, KeyError, tifffile.TiffFileError):
        return None


def _ome_physical_size(ome_xml: str) -> float | None:
    match = re.search(r'PhysicalSizeX="([0-9.eE+-]+)"', ome_xml)
    if match is None:
        return None
    unit = re.search(r'PhysicalSizeXUnit="([^"]+)"', ome_xml)
    factor = _OME_UNIT_TO_UM.get(unit.group(1) if unit else "µm")
    return None if factor is None else float(match.group(1)) * factor


def field_pixel_size(field: Mapping[str, object]) -> float | None:
    """Pixel size (um) of a field-index row, from its first listed channel's metadata."""
    for channel in CHANNELS:
        path = channel_path(field, channel)
        if path is None:
            continue
        if is_ome_zarr(path):
            return ome_zarr_pixel_size(path)
        if is_remote(path):
            return tiff_pixel_size(localize(path))
        return tiff_pixel_size(path) if path.is_file() else None
    return None


def resolve_pixel_size(fields: pd.DataFrame, override: float | None = None) -> float | None:
    """The pixel size (um) to use for a plate: ``override`` (``--pixel-size``) or metadata.

    Raises
    ------
    PlateFormatError
        If ``override`` is not a positive number.
    """
    if override is not None:
        if not override > 0:
            raise PlateFormatError(f"--pixel-size must be a positive number of um, not {override}")
        return float(override)
    if fields.empty:
        return None
    return field_pixel_size(fields.iloc[0].to_dict())

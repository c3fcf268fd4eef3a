"""CellProfiler illumination functions (``.npy``): find them, check them, divide by them.

CellProfiler's ``CorrectIlluminationCalculate`` writes one float function per plate and
channel (the Cell Painting Gallery keeps them as ``<plate>_Illum<CH>.npy`` in
``images/<batch>/illum/<plate>/``), and ``CorrectIlluminationApply`` divides each raw
image by it. A LoadData CSV points at them with ``FileName_Illum<CH>`` /
``PathName_Illum<CH>`` (``load_data_with_illum.csv``); ``attach_illum_folder`` fills the
same columns from a folder (``--illum DIR``). ``read_field`` applies them when listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNELS, PLATE
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io.phenix import filename_column
from napari_phenoscope.io.remote import is_remote, localize


def illum_filename_column(channel: str) -> str:
    """Return the LoadData column naming a channel's illumination file (``FileName_IllumDNA``)."""
    return f"FileName_Illum{channel}"


def illum_pathname_column(channel: str) -> str:
    """Return the LoadData column of a channel's illumination folder (``PathName_IllumDNA``)."""
    return f"PathName_Illum{channel}"


def illum_path(field: Mapping[str, object], channel: str) -> Path | None:
    """Return the illumination function of ``channel`` in a field-index row, or None."""
    name = field.get(illum_filename_column(channel))
    folder = field.get(illum_pathname_column(channel))
    if not isinstance(name, str) or not isinstance(folder, str) or not name:
        return None
    return Path(folder) / name


def is_illum_corrected(field: Mapping[str, object]) -> bool:
    """True when the row lists an illumination function for any channel."""
    return any(illum_path(field, channel) is not None for channel in CHANNELS)


@lru_cache(maxsize=64)
def _load_illum(path_text: str) -> np.ndarray:
    # one function per plate and channel serves every field: read each once
    path = Path(path_text)
    local = localize(path)  # an s3:// function is read from its cached copy
    if not local.is_file():
        raise PlateFormatError(f"missing illumination function {path}")
    try:
        function = np.load(local, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise PlateFormatError(f"cannot read illumination function {path}: {error}") from error
    function = np.squeeze(function)
    if function.ndim != 2 or not np.issubdtype(function.dtype, np.number):
        raise PlateFormatError(
            f"illumination function {path} has shape {function.shape} and dtype "
            f"{function.dtype}; expected one 2-D numeric plane"
        )
    function = function.astype(np.float32)
    if not np.isfinite(function).all() or function.min() <= 0:
        raise PlateFormatError(
            f"illumination function {path} has zero, negative or non-finite values"
        )
    function.setflags(write=False)
    return function


def read_illum_function(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """Read a CellProfiler illumination function and check it fits images of ``shape``.

    Raises
    ------
    PlateFormatError
        Naming the file: missing, unreadable, not 2-D, not positive, or of another shape.
    """
    # absolute: a relative path read from another folder names another file
    function = _load_illum(str(Path(path) if is_remote(path) else Path(path).absolute()))
    if function.shape != tuple(shape):
        raise PlateFormatError(
            f"illumination function {path} has shape {function.shape}; "
            f"the images it corrects have shape {tuple(shape)}"
        )
    return function


def correct_illumination(plane: np.ndarray, function: np.ndarray) -> np.ndarray:
    """Divide a raw plane by its illumination function (CellProfiler's ``Divide``).

    The result is rounded back to uint16 (clipped at 65535), so corrected and raw fields
    flow through the same code; CellProfiler's rescaled functions are >= 1 or have
    median 1, so values stay in range and lose well under one grey level.

    Examples
    --------
    >>> correct_illumination(np.full((2, 2), 100, np.uint16), np.full((2, 2), 2.0))
    array([[50, 50],
           [50, 50]], dtype=uint16)
    """
    corrected = plane.astype(np.float32) / function
    return np.clip(np.rint(corrected), 0, 65535).astype(np.uint16)


def attach_illum_folder(fields: pd.DataFrame, folder: str | Path) -> pd.DataFrame:
    """Point every field at the illumination functions of its plate in ``folder``.

    For each plate and listed channel, looks for ``<plate>_Illum<CH>.npy`` (the Gallery's
    name) in ``folder`` or ``folder/<plate>/``, then for ``Illum<CH>.npy`` in ``folder``
    (one set of functions for every plate).

    Raises
    ------
    PlateFormatError
        Naming the file expected for the first plate and channel that has none.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PlateFormatError(f"illumination folder not found: {folder}")
    fields = fields.copy()
    for channel in CHANNELS:
        listed = fields[filename_column(channel)].notna()
        if not listed.any():
            continue
        names, paths = [], []
        for plate, is_listed in zip(fields[PLATE], listed, strict=True):
            found = _find_illum(folder, str(plate), channel) if is_listed else None
            names.append(found.name if found else None)
            paths.append(str(found.parent) if found else None)
        fields[illum_filename_column(channel)] = names
        fields[illum_pathname_column(channel)] = paths
    return fields


def _find_illum(folder: Path, plate: str, channel: str) -> Path:
    candidates = [
        folder / f"{plate}_Illum{channel}.npy",
        folder / plate / f"{plate}_Illum{channel}.npy",
        folder / f"Illum{channel}.npy",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise PlateFormatError(
        f"no illumination function for plate {plate} channel {channel}: expected "
        f"{candidates[0]} (or {candidates[2].name})"
    )

"""Read fields (C, Y, X) from a field index, eagerly or lazily with dask."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import dask
import dask.array as da
import numpy as np
import pandas as pd
import tifffile

from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io.illum import correct_illumination, illum_path, read_illum_function
from napari_phenoscope.io.omezarr import (
    is_ome_zarr,
    prefetch_zarr_planes,
    read_zarr_plane,
    zarr_plane_shape,
)
from napari_phenoscope.io.phenix import filename_column, frame_column, pathname_column
from napari_phenoscope.io.remote import fetch_all, is_remote, localize

MissingPolicy = Literal["error", "zeros"]
#: How ``iter_fields`` treats a channel whose file a field does not list: stop naming it,
#: fill it with zeros, or read only the channels listed (``Field.channels`` says which).
MissingChannels = Literal["error", "zeros", "skip"]


def channel_path(field: Mapping[str, object], channel: str) -> Path | None:
    """Return the image file of ``channel`` in a field-index row, or None if not listed."""
    name = field.get(filename_column(channel))
    folder = field.get(pathname_column(channel))
    if not isinstance(name, str) or not isinstance(folder, str) or not name:
        return None
    return Path(folder) / name


def _frame(field: Mapping[str, object], channel: str) -> int | None:
    frame = field.get(frame_column(channel))
    if frame is None or (isinstance(frame, float) and np.isnan(frame)):
        return None
    return int(frame)


def describe_field(field: Mapping[str, object]) -> str:
    """Return ``plate PLATE well WELL site N`` for messages."""
    return f"plate {field.get(PLATE)} well {field.get(WELL)} site {field.get(SITE)}"


def available_channels(field: Mapping[str, object]) -> tuple[str, ...]:
    """Return the channels whose file is listed for this field (in CHANNELS order)."""
    return tuple(channel for channel in CHANNELS if channel_path(field, channel) is not None)


def read_channel(path: Path, frame: int | None = None) -> np.ndarray:
    """Read one 2-D channel image (a TIFF, or channel ``frame`` of an OME-Zarr image).

    An ``s3://`` TIFF is read from its cached copy (``io.remote``; fetched if not cached).

    Raises
    ------
    PlateFormatError
        If the file is missing, corrupt, or not a 2-D image (or frame out of range).
    RemoteDataError
        If an ``s3://`` object is missing or cannot be fetched (named).
    """
    if is_ome_zarr(path):
        return read_zarr_plane(path, frame or 0)
    local = localize(path)
    if not local.is_file():
        raise PlateFormatError(f"missing image file {path}")
    try:
        with tifffile.TiffFile(local) as tiff:
            if frame is None:
                image = tiff.asarray()
            else:
                image = tiff.asarray(key=frame)
    except Exception as error:  # corrupt TIFFs raise many different types
        raise PlateFormatError(f"cannot read image {path}: {error}") from error
    image = image.reshape(_plane_shape(image.shape))
    if image.ndim != 2:
        raise PlateFormatError(f"image {path} has shape {image.shape}; expected one 2-D plane")
    return image


def _plane_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Drop single-sample axes (a (1, Y, X) page, a (Y, X, 1) plane) but keep a 1x1 image 2-D."""
    shape = [int(size) for size in shape]
    while len(shape) > 2 and 1 in shape:
        shape.remove(1)
    return tuple(shape)


def channel_shape(path: Path, frame: int | None = None) -> tuple[int, int]:
    """Return a channel image's (Y, X) shape from its header, without reading pixels."""
    if is_ome_zarr(path):
        return zarr_plane_shape(path)
    local = localize(path)
    if not local.is_file():
        raise PlateFormatError(f"missing image file {path}")
    try:
        with tifffile.TiffFile(local) as tiff:
            page = tiff.pages[frame or 0]
            shape = _plane_shape(page.shape)
    except Exception as error:
        raise PlateFormatError(f"cannot read image {path}: {error}") from error
    if len(shape) != 2:
        raise PlateFormatError(f"image {path} has shape {shape}; expected one 2-D plane")
    return shape[0], shape[1]


def read_field(
    field: Mapping[str, object] | pd.Series,
    channels: Sequence[str] = CHANNELS,
    missing: MissingPolicy = "error",
) -> np.ndarray:
    """Read one field as a (C, Y, X) uint16 array in the order of ``channels``.

    Parameters
    ----------
    field
        A row of a field index (``index_plate``).
    channels
        Channels to read, in output order.
    missing
        ``"error"`` raises on a channel whose file is not listed; ``"zeros"`` fills it with
        zeros (a listed file that does not exist or is corrupt always raises).

    Notes
    -----
    A row listing ``FileName_Illum<CH>`` / ``PathName_Illum<CH>`` (``load_data_with_illum``
    or ``--illum``) is divided by those illumination functions, channel by channel.

    Raises
    ------
    PlateFormatError
        Naming the file: missing or corrupt channel file, or channels of different sizes.
    """
    row = dict(field)
    _prefetch(row, channels)
    planes: dict[str, np.ndarray] = {}
    for channel in channels:
        path = channel_path(row, channel)
        if path is None:
            if missing == "error":
                raise PlateFormatError(f"{describe_field(row)} has no {channel} image file")
            continue
        planes[channel] = read_channel(path, _frame(row, channel))
    if not planes:
        raise PlateFormatError(f"{describe_field(row)} has none of the channels {list(channels)}")
    shapes = {channel: plane.shape for channel, plane in planes.items()}
    if len(set(shapes.values())) > 1:
        detail = ", ".join(f"{channel_path(row, c)} {s}" for c, s in shapes.items())
        raise PlateFormatError(f"{describe_field(row)} has images of different sizes: {detail}")
    shape = next(iter(shapes.values()))
    stack = np.zeros((len(channels), *shape), dtype=np.uint16)
    for index, channel in enumerate(channels):
        if channel in planes:
            stack[index] = _corrected(row, channel, planes[channel])
    return stack


def _prefetch(row: Mapping[str, object], channels: Sequence[str]) -> None:
    """Fetch a field's ``s3://`` channel files (and illumination functions) in parallel;
    for an OME-Zarr field, the chunks of its channels' planes."""
    paths = [channel_path(row, c) for c in channels] + [illum_path(row, c) for c in channels]
    fetch_all([path for path in paths if path is not None and not is_ome_zarr(path)])
    zarr_frames: dict[Path, list[int]] = {}
    for channel in channels:
        path = channel_path(row, channel)
        if path is not None and is_remote(path) and is_ome_zarr(path):
            zarr_frames.setdefault(path, []).append(_frame(row, channel) or 0)
    for path, frames in zarr_frames.items():
        prefetch_zarr_planes(path, frames)


def _corrected(row: Mapping[str, object], channel: str, plane: np.ndarray) -> np.ndarray:
    """The plane as uint16, divided by its illumination function when the row lists one."""
    plane = _to_uint16(plane, channel_path(row, channel))
    function_path = illum_path(row, channel)
    if function_path is None:
        return plane
    return correct_illumination(plane, read_illum_function(function_path, plane.shape))


@dataclass(frozen=True)
class Field:
    """One field of a field index, ready to read (``iter_fields``).

    Attributes
    ----------
    position
        Row of the field index (0-based position).
    key
        (plate, well, site), the join key of everything computed from the field.
    row
        The field-index row (file names and metadata).
    channels
        Channels ``read`` returns, in order: all asked for, or under ``missing="skip"``
        those whose file the field lists.
    missing
        The missing-channel policy of ``read``.
    """

    position: int
    key: tuple[str, str, int]
    row: dict[str, object]
    channels: tuple[str, ...]
    missing: MissingChannels

    def read(self, require: Sequence[str] = ()) -> np.ndarray:
        """The field's pixels, (C, Y, X) uint16 in the order of ``channels``.

        Raises
        ------
        PlateFormatError
            Naming the field or file: a channel of ``require`` (or, under
            ``missing="error"``, any channel) has no file, or a file is missing or corrupt.
        """
        for channel in require:
            if channel not in self.channels or channel_path(self.row, channel) is None:
                raise PlateFormatError(f"{describe_field(self.row)} has no {channel} image file")
        policy: MissingPolicy = "zeros" if self.missing == "zeros" else "error"
        return read_field(self.row, channels=self.channels, missing=policy)


def iter_fields(
    fields: pd.DataFrame,
    positions: Sequence[int] | None = None,
    missing: MissingChannels = "error",
    channels: Sequence[str] = CHANNELS,
) -> Iterator[Field]:
    """The fields of an index in order, one at a time: the one field loop of phenoscope.

    The pipeline, batch segmentation, crop streaming and the docks all walk plates through
    it, so a field's key, its channel order and its missing-channel handling are the same
    everywhere. Nothing is read until ``Field.read`` (a caller may skip cached fields or
    report a failed field and go on).

    Parameters
    ----------
    fields
        A field index (``index_plate``).
    positions
        Rows to visit (0-based positions), in this order; all rows by default.
    missing
        ``"error"``: reading a field that lacks a channel file raises, naming it;
        ``"zeros"``: that channel is zeros; ``"skip"``: only the listed channels are read.
    channels
        Channels to read, in output order.

    Yields
    ------
    Field
    """
    if missing not in ("error", "zeros", "skip"):
        raise ValueError(f"missing must be 'error', 'zeros' or 'skip', not {missing!r}")
    records = fields.to_dict("records")
    for position in range(len(records)) if positions is None else positions:
        row = records[position]
        names = tuple(channels)
        if missing == "skip":
            names = tuple(c for c in channels if channel_path(row, c) is not None)
        key = (str(row[PLATE]), str(row[WELL]), int(row[SITE]))
        yield Field(int(position), key, row, names, missing)


def _to_uint16(plane: np.ndarray, path: Path | None) -> np.ndarray:
    if plane.dtype == np.uint16:
        return plane
    if np.issubdtype(plane.dtype, np.integer) and plane.min() >= 0 and plane.max() <= 65535:
        return plane.astype(np.uint16)
    if np.issubdtype(plane.dtype, np.floating) and np.isfinite(plane).all():
        low, high = float(plane.min()), float(plane.max())
        if low >= 0.0 and high <= 1.0:
            return np.round(plane * 65535).astype(np.uint16)
        if low >= 0.0 and high <= 65535:
            return np.round(plane).astype(np.uint16)
    raise PlateFormatError(f"image {path} has dtype {plane.dtype} values outside uint16 range")


def lazy_channel_stack(
    fields: pd.DataFrame, channel: str, shape: tuple[int, int] | None = None
) -> da.Array:
    """Return a lazy (F, Y, X) uint16 stack of one channel over the rows of a field index.

    Nothing is read until a plane is computed; a field missing this channel is zeros;
    listed illumination functions are applied as in ``read_field``. The plane shape is
    taken from the first listed file's header unless given.

    Raises
    ------
    PlateFormatError
        If no field lists this channel; a file of another size raises when it is read.
    """
    rows = fields.to_dict("records")
    if shape is None:
        first = next((row for row in rows if channel_path(row, channel) is not None), None)
        if first is None:
            raise PlateFormatError(f"no field lists a {channel} image")
        shape = channel_shape(channel_path(first, channel), _frame(first, channel))
    planes = [
        da.from_delayed(
            dask.delayed(_read_plane)(row, channel, shape), shape=shape, dtype=np.uint16
        )
        for row in rows
    ]
    return da.stack(planes)


def _read_plane(row: dict[str, object], channel: str, shape: tuple[int, int]) -> np.ndarray:
    path = channel_path(row, channel)
    if path is None:
        return np.zeros(shape, dtype=np.uint16)
    plane = read_channel(path, _frame(row, channel))
    if plane.shape != shape:
        raise PlateFormatError(
            f"image {path} has size {plane.shape}, other fields of the plate have {shape}"
        )
    return _corrected(row, channel, plane)

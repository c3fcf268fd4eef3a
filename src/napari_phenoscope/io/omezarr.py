"""OME-Zarr (OME-NGFF) HCS plates as field indexes, read lazily through ome-zarr-py.

A plate (``plate.zarr/<row>/<column>/<field>``) becomes the same LoadData-shaped index as
every other layout: ``PathName_Orig<CH>`` is the well group, ``FileName_Orig<CH>`` the field
and ``Frame_Orig<CH>`` the channel's index on the ``c`` axis, so ``read_field``,
``lazy_channel_stack`` and the docks need no zarr-specific code. ome-zarr-py parses the
metadata (NGFF 0.4 on zarr v2, 0.5 on zarr v3); pixels come from its level-0 dask array.

A plate on S3 (``s3://.../plate.zarr``) is read through the object cache of ``io.remote``
(``io.remote_zarr``): the metadata of each group opened and the chunks of each plane read
are fetched into the cache, with its retries and one-line errors, and read from there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNELS, PLATE, SITE, STAIN_ALIASES, WELL
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io.phenix import (
    _as_field_index,
    filename_column,
    frame_column,
    pathname_column,
)
from napari_phenoscope.io.remote import as_url, is_remote, join_url, object_cache
from napari_phenoscope.io.remote_zarr import chunk_keys, chunks_at_hand, mirrored

#: NGFF space units -> micrometres.
_UNIT_TO_UM = {
    "micrometer": 1.0,
    "micron": 1.0,
    "um": 1.0,
    "nanometer": 1e-3,
    "nm": 1e-3,
    "millimeter": 1e3,
    "mm": 1e3,
    "meter": 1e6,
    "m": 1e6,
    "angstrom": 1e-4,
}


def is_ome_zarr(path: str | Path) -> bool:
    """True for a folder holding zarr group metadata (v2 ``.zattrs`` or v3 ``zarr.json``).

    An ``s3://`` URL is judged by its name, without a request: a part ending ``.zarr``.
    """
    if is_remote(path):
        return any(part.lower().endswith(".zarr") for part in as_url(path).split("/"))
    path = Path(path)
    return path.is_dir() and ((path / "zarr.json").is_file() or (path / ".zattrs").is_file())


def has_ome_metadata(path: str | Path) -> bool:
    """True for a zarr group with OME plate or image (multiscales) metadata."""
    if not is_ome_zarr(path):
        return False
    try:
        attrs = _location(Path(path)).root_attrs
    except PlateFormatError:
        return False
    return "plate" in attrs or "multiscales" in attrs


def is_hcs_plate(path: str | Path) -> bool:
    """True for an OME-Zarr HCS plate (a zarr group whose OME metadata has ``plate``)."""
    if not is_ome_zarr(path):
        return False
    try:
        return "plate" in _location(Path(path)).root_attrs
    except PlateFormatError:
        return False


def _location(path: Path) -> Any:
    """ome-zarr-py's view of the group at ``path`` (an ``s3://`` one: of its cached copy)."""
    if not is_remote(path):
        return _open_location(path, path)
    url = as_url(path)
    with mirrored(url) as local:
        return _open_location(local, url)


def _open_location(local: Path, shown: str | Path) -> Any:
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.io import parse_url

    # ask for the version stored, so ome-zarr does not log a version-mismatch warning
    fmt = FormatV05() if (local / "zarr.json").is_file() else FormatV04()
    try:
        location = parse_url(str(local), mode="r", fmt=fmt)
    except Exception as error:  # zarr / fsspec raise many types on damaged stores
        raise PlateFormatError(f"cannot open OME-Zarr {shown}: {error}") from error
    if location is None:
        raise PlateFormatError(f"cannot open OME-Zarr {shown}: not a zarr group")
    return location


class _NgffImage(NamedTuple):
    """One NGFF image, opened: its level-0 array and what reading it needs."""

    data: Any  # level 0 as a dask array
    axes: tuple[str, ...]
    metadata: dict[str, Any]
    level0_url: str | None = None  # on S3: level 0's URL, and its zarr array for chunk keys
    level0: Any = None


def _ngff_image(path: str | Path) -> _NgffImage:
    """``_image`` of ``path``; an ``s3://`` image once per cache folder (its local copy)."""
    if is_remote(path):
        return _image(str(Path(path)), str(object_cache().root))
    # absolute: a relative ``plate.zarr`` read from another folder is another image
    return _image(str(Path(path).absolute()), "")


@lru_cache(maxsize=512)
def _image(path_text: str, cache_root: str) -> _NgffImage:
    """Level-0 dask array, axis names and metadata of one NGFF image (each opened once)."""
    path = Path(path_text)
    if not is_remote(path):
        data, axes, metadata = _read_node(_location(path), path)
        return _NgffImage(data, axes, metadata)
    import zarr

    url = as_url(path)
    with mirrored(url) as local:
        levels = [
            str(level["path"])
            for level in _multiscales(_open_location(local, url), url)["datasets"]
        ]
    if not levels:
        raise PlateFormatError(f"OME-Zarr image {url} lists no resolution levels")
    with mirrored(url, levels) as local:
        data, axes, metadata = _read_node(_open_location(local, url), url)
        level0 = zarr.open_array(str(local / levels[0]), mode="r")
    return _NgffImage(data, axes, metadata, join_url(url, levels[0]), level0)


def _multiscales(location: Any, shown: str | Path) -> dict[str, Any]:
    multiscales = location.root_attrs.get("multiscales")
    if not multiscales:
        raise PlateFormatError(f"OME-Zarr image {shown} has no multiscales metadata")
    return dict(multiscales[0])


def _read_node(location: Any, shown: str | Path) -> tuple[Any, tuple[str, ...], dict[str, Any]]:
    from ome_zarr.reader import Node, Reader

    _multiscales(location, shown)
    try:
        node = Node(location, Reader(location))
    except Exception as error:
        raise PlateFormatError(f"cannot read OME-Zarr image {shown}: {error}") from error
    if not node.data:
        raise PlateFormatError(f"OME-Zarr image {shown} lists no resolution levels")
    axes = tuple(
        axis["name"] if isinstance(axis, Mapping) else str(axis)
        for axis in node.metadata.get("axes") or _default_axes(node.data[0].ndim)
    )
    return node.data[0], axes, dict(node.metadata)


def _default_axes(ndim: int) -> list[str]:
    return list("tczyx"[-ndim:])


def _plane_index(path: str | Path, image: _NgffImage, channel: int) -> tuple[int | slice, ...]:
    """The index of channel ``channel``'s (Y, X) plane: first time point and focal plane."""
    index: list[int | slice] = []
    for axis, size in zip(image.axes, image.data.shape, strict=True):
        if axis == "c":
            if not 0 <= channel < size:
                raise PlateFormatError(
                    f"OME-Zarr image {path} has {size} channels; channel {channel} asked for"
                )
            index.append(channel)
        elif axis in ("y", "x"):
            index.append(slice(None))
        else:
            index.append(0)
    if "c" not in image.axes and channel != 0:
        raise PlateFormatError(f"OME-Zarr image {path} has no channel axis")
    return tuple(index)


@contextmanager
def _chunks_at_hand(
    image: _NgffImage, indexes: Sequence[tuple[int | slice, ...]]
) -> Iterator[None]:
    """On S3: fetch the chunks the planes cover (in parallel) and keep them cached meanwhile."""
    if image.level0 is None or image.level0_url is None:
        yield
        return
    keys = dict.fromkeys(key for index in indexes for key in chunk_keys(image.level0, index))
    with chunks_at_hand(image.level0_url, keys):
        yield


def read_zarr_plane(path: str | Path, channel: int) -> np.ndarray:
    """Read one (Y, X) plane of channel ``channel`` (index on ``c``) at full resolution.

    The first time point and focal plane are read (Cell Painting fields have one). On S3,
    the chunks of the plane are fetched into the object cache first (``io.remote``).

    Raises
    ------
    PlateFormatError
        Naming the image: no such group, no ``c`` axis, or channel out of range.
    RemoteDataError
        Naming the object of an S3 plate that could not be fetched.
    """
    image = _ngff_image(path)
    index = _plane_index(path, image, channel)
    with _chunks_at_hand(image, [index]):
        try:
            return np.asarray(image.data[index].compute())
        except Exception as error:
            raise PlateFormatError(f"cannot read OME-Zarr image {path}: {error}") from error


def prefetch_zarr_planes(path: str | Path, channels: Sequence[int]) -> None:
    """Fetch the chunks of these channels' planes of an S3 image in parallel (a no-op for a
    local image), so that the planes' reads find them cached."""
    if not is_remote(path) or not channels:
        return
    image = _ngff_image(path)
    with _chunks_at_hand(image, [_plane_index(path, image, channel) for channel in channels]):
        pass


def zarr_plane_shape(path: str | Path) -> tuple[int, int]:
    """The (Y, X) size of an NGFF image at full resolution, from its metadata."""
    image = _ngff_image(path)
    sizes = dict(zip(image.axes, image.data.shape, strict=True))
    return int(sizes["y"]), int(sizes["x"])


def ome_zarr_pixel_size(path: str | Path) -> float | None:
    """Pixel size (um) of an NGFF image's level 0, from its scale and axis unit.

    None when the ``x`` axis has no (known) space unit: a bare scale says nothing physical.
    """
    _, axes, metadata, *_ = _ngff_image(path)
    axis_specs = metadata.get("axes") or []
    units = {spec.get("name"): spec.get("unit") for spec in axis_specs if isinstance(spec, Mapping)}
    factor = _UNIT_TO_UM.get(str(units.get("x", "")).lower())
    transforms = (metadata.get("coordinateTransformations") or [None])[0] or []
    scale = next((t.get("scale") for t in transforms if t.get("type") == "scale"), None)
    if factor is None or scale is None or "x" not in axes:
        return None
    return float(scale[axes.index("x")]) * factor


def _normalise_label(label: str) -> str:
    return re.sub(r"[^a-z0-9]", "", label.lower()).removeprefix("orig")


def parse_label_map(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """``"Hoechst=DNA,3=RNA"`` -> {normalised label or 1-based number: channel name}.

    Raises
    ------
    PlateFormatError
        If an item is not ``KEY=NAME`` or names a channel outside DNA, ER, RNA, AGP, Mito.
    """
    if spec is None:
        return {}
    items = (
        spec.items()
        if isinstance(spec, Mapping)
        else (part.strip().partition("=")[::2] for part in spec.split(",") if part.strip())
    )
    mapping: dict[str, str] = {}
    for key, name in items:
        key, name = str(key).strip(), str(name).strip()
        if not key or name not in CHANNELS:
            raise PlateFormatError(
                f"channel map item {key}={name} is not LABEL=NAME with NAME one of "
                f"{', '.join(CHANNELS)}"
            )
        mapping[key if key.isdigit() else _normalise_label(key)] = name
    return mapping


def map_channel_labels(
    labels: list[str] | None,
    n_channels: int,
    channel_map: str | Mapping[str, str] | None,
    where: Path,
) -> dict[str, int]:
    """Cell Painting channel -> index on the ``c`` axis, from labels and a channel map.

    Labels are matched to channel names and stain names (Hoechst, ConA, SYTO14,
    Phalloidin, MitoTracker ...); a channel map (``"Hoechst=DNA"`` or ``"1=DNA"``, numbers
    counting from 1) overrides them.

    Raises
    ------
    PlateFormatError
        No channel labels and no map, or no label naming a Cell Painting channel.
    """
    explicit = parse_label_map(channel_map)
    if labels is None and not explicit:
        raise PlateFormatError(
            f"OME-Zarr image {where} has no channel names (no omero metadata); give a "
            "channel map such as --channel-map 1=DNA,2=ER,3=RNA,4=AGP,5=Mito"
        )
    found: dict[str, int] = {}
    for index in range(n_channels):
        label = labels[index] if labels and index < len(labels) else ""
        key = _normalise_label(label)
        name = explicit.get(str(index + 1)) or explicit.get(key)
        if name is None and not explicit:
            name = STAIN_ALIASES.get(key)
        if name is not None and name not in found:
            found[name] = index
    if not found:
        shown = ", ".join(labels or []) or "none"
        raise PlateFormatError(
            f"OME-Zarr image {where} has channels ({shown}) none of which names "
            f"{', '.join(CHANNELS)}; give a channel map such as --channel-map Hoechst=DNA"
        )
    return found


def _well_name(row: str, column: str) -> str:
    return f"{row.upper()}{int(column):02d}" if column.isdigit() else f"{row.upper()}{column}"


def index_ome_zarr(
    path: str | Path, channel_map: str | Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Index an OME-Zarr HCS plate (or a single NGFF image) as a LoadData table.

    Parameters
    ----------
    path
        The plate's root group (``plate.zarr``), zarr v2 or v3.
    channel_map
        Channel label or 1-based number -> channel name (``"Hoechst=DNA,2=ER"``), for
        labels that are not Cell Painting channel or stain names, or images without
        ``omero`` metadata.

    Returns
    -------
    pandas.DataFrame
        One row per field (``Metadata_Site`` counts the well's images from 1).

    Raises
    ------
    PlateFormatError
        Naming the group: not OME-Zarr, a well without images, missing channel metadata.
    """
    path = Path(path)
    plate_attrs = _location(path).root_attrs
    plate_name = re.sub(r"(\.ome)?\.zarr$", "", path.name, flags=re.IGNORECASE) or "plate"
    if "plate" in plate_attrs:
        plate = plate_attrs["plate"]
        plate_name = str(plate.get("name") or plate_name)
        images = []
        for well in plate.get("wells", []):
            row, column = well["path"].split("/")[-2:]
            well_attrs = _location(path / well["path"]).root_attrs
            fields = (well_attrs.get("well") or {}).get("images") or []
            if not fields:
                raise PlateFormatError(f"OME-Zarr well {path / well['path']} lists no images")
            images += [
                (_well_name(row, column), site, path / well["path"], str(field["path"]))
                for site, field in enumerate(fields, start=1)
            ]
    elif "multiscales" in plate_attrs:
        images = [("A01", 1, path.parent, path.name)]
    else:
        raise PlateFormatError(f"{path} is not an OME-Zarr plate or image (no plate metadata)")
    if not images:
        raise PlateFormatError(f"OME-Zarr plate {path} lists no wells")
    first = images[0][2] / images[0][3]
    data, axes, metadata, *_ = _ngff_image(first)
    n_channels = data.shape[axes.index("c")] if "c" in axes else 1
    channels = map_channel_labels(metadata.get("channel_names"), n_channels, channel_map, first)
    records = []
    for well, site, well_path, field in images:
        record: dict[str, object] = {PLATE: plate_name, WELL: well, SITE: site}
        for name, index in channels.items():
            record[filename_column(name)] = field
            record[pathname_column(name)] = as_url(well_path) if is_remote(path) else str(well_path)
            record[frame_column(name)] = index
        records.append(record)
    return _as_field_index(pd.DataFrame(records))

"""Find Phenix / Cell Painting Gallery image files and index them by plate, well, site.

The index is a CellProfiler LoadData table (one row per field, ``FileName_Orig<CH>`` and
``PathName_Orig<CH>`` per channel), so every reader produces the same shape of table and
the rest of the package never cares where the images came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from napari_phenoscope.constants import (
    CHANNELS,
    CPJUMP1_CHANNEL_MAP,
    PHENIX_FILENAME,
    PLATE,
    SITE,
    WELL,
    well_name,
)
from napari_phenoscope.errors import PlateFormatError

_BARCODE_IN_PATH = re.compile(r"(BR\d{8})")
_GENERIC_FOLDERS = {"images", "orig", "image", "raw"}


def filename_column(channel: str) -> str:
    """Return the LoadData file-name column of a channel (``FileName_OrigDNA``)."""
    return f"FileName_Orig{channel}"


def pathname_column(channel: str) -> str:
    """Return the LoadData folder column of a channel (``PathName_OrigDNA``)."""
    return f"PathName_Orig{channel}"


def frame_column(channel: str) -> str:
    """Return the LoadData frame column of a channel stored in a multi-page TIFF."""
    return f"Frame_Orig{channel}"


def parse_channel_map(spec: str | Mapping[int, str] | None) -> dict[int, str]:
    """Return a channel-number -> channel-name map from ``"2=ER,3=AGP,..."`` or a mapping.

    ``None`` gives the CPJUMP1 numbering (ch1 Mito, ch2 AGP, ch3 RNA, ch4 ER, ch5 DNA).

    Examples
    --------
    >>> parse_channel_map("5=DNA,2=ER")
    {5: 'DNA', 2: 'ER'}
    """
    if spec is None:
        return dict(CPJUMP1_CHANNEL_MAP)
    if isinstance(spec, Mapping):
        pairs = [(int(number), str(name)) for number, name in spec.items()]
    else:
        pairs = []
        for item in filter(None, (part.strip() for part in spec.split(","))):
            number, _, name = item.partition("=")
            if not number.strip().isdigit() or not name.strip():
                raise PlateFormatError(f"channel map item {item!r} is not NUMBER=NAME")
            pairs.append((int(number), name.strip()))
    unknown = sorted({name for _, name in pairs} - set(CHANNELS))
    if unknown:
        raise PlateFormatError(
            f"channel map names unknown channel(s) {', '.join(unknown)}; use {', '.join(CHANNELS)}"
        )
    return dict(pairs)


def _format_channel_map(numbering: Mapping[int, str]) -> str:
    return ",".join(f"{number}={name}" for number, name in sorted(numbering.items()))


def barcode_from_path(folder: Path) -> str:
    """Guess a plate barcode from a folder path.

    ``images/BR00116991__2020-11-05T19_51_35-Measurement1/Images`` gives ``BR00116991``;
    otherwise the first CPJUMP1-style barcode (``BR`` + 8 digits) in the path, otherwise
    the nearest folder name that is not a generic one such as ``Images`` or ``orig``.
    """
    for part in reversed(folder.resolve().parts):
        if part.lower() in _GENERIC_FOLDERS:
            continue
        if "__" in part:
            return part.split("__", 1)[0]
        found = _BARCODE_IN_PATH.search(part)
        if found:
            return found.group(1)
    for part in reversed(folder.resolve().parts):
        if part.lower() not in _GENERIC_FOLDERS:
            return part
    return "plate"


def index_phenix_folder(
    folder: str | Path,
    channel_map: Mapping[int, str] | None = None,
    plane: int = 1,
) -> pd.DataFrame:
    """Index every Phenix-named TIFF below ``folder`` as a LoadData table.

    Parameters
    ----------
    folder
        A plate's image folder, or any folder above one or several of them (each plate is
        the folder that directly holds its TIFFs).
    channel_map
        Channel number -> channel name; CPJUMP1 numbering when ``None``. Channels not in
        the map (bright field) are ignored.
    plane
        Focal plane to index (``pNN``); Cell Painting plates usually have one.

    Returns
    -------
    pandas.DataFrame
        One row per (plate, well, site), sorted, with ``Metadata_Plate``, ``Metadata_Well``,
        ``Metadata_Site`` and ``FileName_Orig<CH>`` / ``PathName_Orig<CH>`` per channel
        (``None`` where a channel file is missing).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PlateFormatError(f"plate folder not found: {folder}")
    numbering = parse_channel_map(channel_map)
    records: dict[tuple[str, str, int], dict[str, object]] = {}
    barcodes: dict[Path, str] = {}
    unmapped: set[int] = set()
    for path in sorted(folder.rglob("*.tif*")):
        match = PHENIX_FILENAME.match(path.name)
        if match is None or int(match["plane"]) != plane:
            continue
        channel = numbering.get(int(match["channel"]))
        if channel is None:
            unmapped.add(int(match["channel"]))
            continue
        if path.parent not in barcodes:
            barcodes[path.parent] = barcode_from_path(path.parent)
        key = (
            barcodes[path.parent],
            well_name(int(match["row"]), int(match["col"])),
            int(match["site"]),
        )
        record = records.setdefault(key, {PLATE: key[0], WELL: key[1], SITE: key[2]})
        earlier = record.get(pathname_column(channel))
        if earlier is not None and earlier != str(path.parent):
            raise PlateFormatError(
                f"plate {key[0]} well {key[1]} site {key[2]} is imaged twice, in {earlier} "
                f"and in {path.parent}: open one measurement folder"
            )
        record[filename_column(channel)] = path.name
        record[pathname_column(channel)] = str(path.parent)
    if not records and unmapped:
        seen = ", ".join(f"ch{number}" for number in sorted(unmapped))
        raise PlateFormatError(
            f"{folder} has only channels {seen}, none of them in the channel map "
            f"{_format_channel_map(numbering)} (bright field?); pass --channel-map"
        )
    if not records:
        raise PlateFormatError(f"no Phenix-named images (rRRcCCfFFpPP-chN...tiff) under {folder}")
    return _as_field_index(pd.DataFrame(list(records.values())))


def _as_field_index(table: pd.DataFrame) -> pd.DataFrame:
    """Add absent channel columns as None; fixed column order; rows by plate, well, site."""
    for channel in CHANNELS:
        for column in (filename_column(channel), pathname_column(channel)):
            if column not in table.columns:
                table[column] = None
    ordered = [PLATE, WELL, SITE]
    for channel in CHANNELS:
        ordered += [filename_column(channel), pathname_column(channel)]
        if frame_column(channel) in table.columns:
            ordered.append(frame_column(channel))
    table = table[ordered + [c for c in table.columns if c not in ordered]]
    table = table.astype({column: object for column in table.columns if column != SITE})
    table = table.where(table.notna(), None)
    table[SITE] = table[SITE].astype(int)
    return table.sort_values([PLATE, WELL, SITE], ignore_index=True)

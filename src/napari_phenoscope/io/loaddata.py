"""Read CellProfiler LoadData CSVs and single multi-channel TIFFs as field indexes."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import pandas as pd
import tifffile

from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io.illum import illum_filename_column, illum_pathname_column
from napari_phenoscope.io.phenix import (
    _as_field_index,
    filename_column,
    frame_column,
    pathname_column,
)
from napari_phenoscope.io.remote import as_url, fetch, is_remote, join_url, url_parent

#: The part of a Gallery path that is the same on S3 and on a local copy of a source.
_GALLERY_TAIL = re.compile(r"(?:^|/)(images/[^/]+/(?:images|illum)/.*)$")


def gallery_source_root(csv_path: Path) -> Path | None:
    """The ``<source>`` folder of ``<source>/workspace/load_data_csv/<batch>/<plate>/*.csv``."""
    parents = csv_path.resolve().parents
    if len(parents) > 4 and parents[2].name == "load_data_csv" and parents[3].name == "workspace":
        return parents[4]
    return None


def _local_folder(folder: str, csv_path: Path, source_root: Path | None) -> str:
    """Resolve a LoadData folder: relative to the CSV, or moved into the local Gallery tree.

    Real Gallery CSVs name ``s3://cellpainting-gallery/<project>/<source>/images/...`` (or
    the folder the plate was processed in); beside a local ``workspace/load_data_csv`` the
    same ``images/<batch>/{images,illum}/...`` tail is looked up under the local source.
    """
    text = folder.replace("\\", "/")
    if source_root is not None and (
        "://" in text or not Path(text).is_absolute() or not Path(text).is_dir()
    ):
        tail = _GALLERY_TAIL.search(text)
        if tail is not None and (source_root / tail.group(1)).is_dir():
            return str(source_root / tail.group(1))
    if "://" in text or Path(text).is_absolute():
        return text
    return str((csv_path.parent / text).resolve())


def remote_gallery_source(csv_url: str) -> str | None:
    """``s3://.../<source>`` of ``.../<source>/workspace/load_data_csv/<batch>/<plate>/x.csv``."""
    parts = as_url(csv_url).split("/")
    if len(parts) > 6 and parts[-4] == "load_data_csv" and parts[-5] == "workspace":
        return "/".join(parts[:-5])
    return None


def _remote_folder(folder: str, csv_url: str, source_url: str | None) -> str:
    """Resolve a folder of a LoadData CSV that lives on S3.

    URLs stay as they are; a Gallery CSV naming the folder the plate was processed in gets
    its ``images/<batch>/...`` tail under the CSV's own source; a relative folder is taken
    from the CSV's folder.
    """
    text = folder.replace("\\", "/")
    if "://" in text:
        return as_url(text) if is_remote(text) else text
    tail = _GALLERY_TAIL.search(text)
    if source_url is not None and tail is not None:
        return join_url(source_url, tail.group(1))
    if text.startswith("/"):
        return text
    base = url_parent(csv_url)[len("s3://") :]
    return "s3://" + posixpath.normpath(posixpath.join(base, text))


def index_load_data_csv(csv_path: str | Path) -> pd.DataFrame:
    """Index the fields listed in a CellProfiler LoadData CSV (``.csv`` or ``.csv.gz``).

    ``PathName_Orig<CH>`` may be absolute or relative to the CSV's folder. A CSV in the
    Cell Painting Gallery layout (``<source>/workspace/load_data_csv/<batch>/<plate>/``)
    whose folders point elsewhere (S3, the machine it was made on) is read against the
    local ``<source>/images/<batch>/`` tree. ``FileName_Illum<CH>`` / ``PathName_Illum<CH>``
    (``load_data_with_illum.csv``) are kept, so fields are illumination-corrected on read,
    and so is every ``Metadata_*`` column (source, batch, ...). An ``s3://`` CSV is read
    from its cached copy and its folders stay on S3 (``io.remote``).

    Raises
    ------
    PlateFormatError
        If the file is unreadable, or lacks ``Metadata_Plate``, ``Metadata_Well``,
        ``Metadata_Site`` or both columns of every channel.
    """
    remote = is_remote(csv_path)
    csv_path = as_url(csv_path) if remote else Path(csv_path)
    try:
        readable = fetch(csv_path) if remote else csv_path
        table = pd.read_csv(readable, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, EOFError, pd.errors.ParserError) as error:
        raise PlateFormatError(f"cannot read LoadData CSV {csv_path}: {error}") from error
    for column in (PLATE, WELL, SITE):
        if column not in table.columns:
            raise PlateFormatError(f"LoadData CSV {csv_path} has no column {column}")
    present = [
        channel
        for channel in CHANNELS
        if {filename_column(channel), pathname_column(channel)} <= set(table.columns)
    ]
    if not present:
        raise PlateFormatError(
            f"LoadData CSV {csv_path} has no FileName_Orig<CH>/PathName_Orig<CH> columns "
            f"for any of {', '.join(CHANNELS)}"
        )
    if table.empty:
        raise PlateFormatError(f"LoadData CSV {csv_path} lists no images")
    if not table[SITE].str.strip().str.isdigit().all():
        raise PlateFormatError(f"LoadData CSV {csv_path} column {SITE} is not whole numbers")
    if remote:
        source_url = remote_gallery_source(csv_path)

        def resolve(folder: str) -> str:
            return _remote_folder(folder, csv_path, source_url)
    else:
        source_root = gallery_source_root(csv_path)

        def resolve(folder: str) -> str:
            return _local_folder(folder, csv_path, source_root)

    keep = [PLATE, WELL, SITE]
    for channel in present:
        pairs = [(filename_column(channel), pathname_column(channel))]
        if {illum_filename_column(channel), illum_pathname_column(channel)} <= set(table):
            pairs.append((illum_filename_column(channel), illum_pathname_column(channel)))
        for name_column, folder_column in pairs:
            table[folder_column] = [
                resolve(folder) if isinstance(folder, str) else None
                for folder in table[folder_column]
            ]
            keep += [name_column, folder_column]
        if frame_column(channel) in table.columns:
            keep.append(frame_column(channel))
    keep += [c for c in table.columns if c.startswith("Metadata_") and c not in keep]
    return _as_field_index(table[keep].copy())


def index_multichannel_tiff(
    tiff_path: str | Path,
    channel_names: tuple[str, ...] = CHANNELS,
    plate: str | None = None,
    well: str = "A01",
    site: int = 1,
) -> pd.DataFrame:
    """Index one (C, Y, X) TIFF as a single field whose channels are its pages.

    Parameters
    ----------
    tiff_path
        A TIFF holding a (C, Y, X) stack, C at least the number of ``channel_names``.
    channel_names
        The channel of each page, in page order (DNA, ER, RNA, AGP, Mito by default).
    plate, well, site
        Metadata to give the field; the plate defaults to the file's stem.
    """
    tiff_path = Path(tiff_path)
    try:
        with tifffile.TiffFile(tiff_path) as tiff:
            shape = tiff.series[0].shape
    except Exception as error:  # tifffile raises many types for corrupt files
        raise PlateFormatError(f"cannot read TIFF {tiff_path}: {error}") from error
    if len(shape) != 3 or shape[0] < len(channel_names):
        raise PlateFormatError(
            f"TIFF {tiff_path} has shape {shape}; expected (C, Y, X) with C >= "
            f"{len(channel_names)} channels ({', '.join(channel_names)})"
        )
    record: dict[str, object] = {PLATE: plate or tiff_path.stem, WELL: well, SITE: site}
    for frame, channel in enumerate(channel_names):
        record[filename_column(channel)] = tiff_path.name
        record[pathname_column(channel)] = str(tiff_path.resolve().parent)
        record[frame_column(channel)] = frame
    return _as_field_index(pd.DataFrame([record]))

"""Read CellProfiler LoadData CSVs and single multi-channel TIFFs as field indexes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import tifffile

from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io.phenix import (
    _as_field_index,
    filename_column,
    frame_column,
    pathname_column,
)


def index_load_data_csv(csv_path: str | Path) -> pd.DataFrame:
    """Index the fields listed in a CellProfiler LoadData CSV.

    ``PathName_Orig<CH>`` may be absolute or relative to the CSV's folder; when an absolute
    folder no longer exists (the plate was moved), the CSV's own folder and its
    ``../../images`` tree are not guessed: the reader reports the missing file instead.

    Raises
    ------
    PlateFormatError
        If the file is unreadable, or lacks ``Metadata_Plate``, ``Metadata_Well``,
        ``Metadata_Site`` or both columns of every channel.
    """
    csv_path = Path(csv_path)
    try:
        table = pd.read_csv(csv_path, dtype={PLATE: str, WELL: str})
    except (OSError, ValueError, pd.errors.ParserError) as error:
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
    keep = [PLATE, WELL, SITE]
    for channel in present:
        folders = table[pathname_column(channel)].astype(str)
        table[pathname_column(channel)] = [
            folder if Path(folder).is_absolute() else str((csv_path.parent / folder).resolve())
            for folder in folders
        ]
        keep += [filename_column(channel), pathname_column(channel)]
        if frame_column(channel) in table.columns:
            keep.append(frame_column(channel))
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

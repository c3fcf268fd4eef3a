"""Which reader a plate path needs: ``index_plate``, the one entry point of ``io``.

A project folder, a Cell Painting Gallery folder, a Phenix image folder, a LoadData CSV, an
OME-Zarr plate, a multi-channel TIFF or an ``s3://`` URL of one of them: each goes to its
reader (``phenix``, ``loaddata``, ``gallery``, ``omezarr``), and all return the same
LoadData-shaped field index.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from napari_phenoscope.constants import PHENIX_FILENAME
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io.gallery import (
    find_load_data_csvs,
    index_gallery,
    index_remote_gallery,
    is_gallery_path,
)
from napari_phenoscope.io.loaddata import index_load_data_csv, index_multichannel_tiff
from napari_phenoscope.io.omezarr import index_ome_zarr, is_ome_zarr
from napari_phenoscope.io.phenix import index_phenix_folder, parse_channel_map
from napari_phenoscope.io.remote import as_url, is_remote


def _is_load_data_file(path: Path) -> bool:
    return path.name.lower().endswith((".csv", ".csv.gz"))


def is_plate_path(path: str | Path) -> bool:
    """Cheap check (no pixels read) that ``index_plate`` can try this path."""
    if is_remote(path):
        return True
    path = Path(path)
    if path.is_dir():
        return True
    return _is_load_data_file(path) or path.suffix.lower() in (".tif", ".tiff")


def index_plate(
    path: str | Path, channel_map: Mapping[int, str] | str | None = None
) -> pd.DataFrame:
    """Index the fields of a plate (or of several plates) as a LoadData table.

    Parameters
    ----------
    path
        A project folder (its ``images/`` tree is scanned), a Cell Painting Gallery
        folder (its ``workspace/load_data_csv`` CSVs are read), a plate image folder, a
        ``load_data.csv(.gz)``, an OME-Zarr plate or a single (C, Y, X) TIFF (channels in
        DNA, ER, RNA, AGP, Mito order, or as ``channel_map`` says). ``s3://`` URLs: a
        LoadData CSV, a Gallery source / batch / plate (indexed from its CSVs, the image
        prefix never listed) or an OME-Zarr plate (``*.zarr``); pixels are fetched when a
        field is read, through the object cache (``io.remote``).
    channel_map
        Phenix channel number -> channel name (``"2=ER,3=AGP,4=Mito,5=DNA,6=RNA"``);
        CPJUMP1 numbering by default. For OME-Zarr: channel label or 1-based number ->
        name (``"Hoechst=DNA"``), overriding the labels' own names.

    Returns
    -------
    pandas.DataFrame
        One row per field: ``Metadata_Plate``, ``Metadata_Well``, ``Metadata_Site`` and
        ``FileName_Orig<CH>`` / ``PathName_Orig<CH>`` per channel (None where missing).

    Raises
    ------
    PlateFormatError
        If the path does not exist or holds no recognisable images.
    """
    if is_remote(path):
        return _index_remote(as_url(path), channel_map)
    path = Path(path)
    if not path.exists():
        raise PlateFormatError(f"no such file or folder: {path}")
    if path.is_file():
        if _is_load_data_file(path):
            return index_load_data_csv(path)
        if path.suffix.lower() in (".tif", ".tiff"):
            single = index_phenix_folder_file(path, channel_map)
            return single if single is not None else index_multichannel_tiff(path)
        raise PlateFormatError(f"{path} is not a plate folder, load_data.csv or TIFF")
    if is_ome_zarr(path):
        return index_ome_zarr(path, channel_map)
    if is_gallery_path(path) and find_load_data_csvs(path):
        return index_gallery(path)
    images = path / "images"
    if images.is_dir():
        return index_phenix_folder(images, parse_channel_map(channel_map))
    load_data = sorted(path.glob("load_data_csv/*/load_data.csv"))
    if load_data and not any(path.rglob("*.tif*")):
        return pd.concat([index_load_data_csv(csv) for csv in load_data], ignore_index=True)
    return index_phenix_folder(path, parse_channel_map(channel_map))


def _index_remote(url: str, channel_map: Mapping[int, str] | str | None) -> pd.DataFrame:
    if _is_load_data_file(Path(url)):
        return index_load_data_csv(url)
    if is_ome_zarr(url):
        return index_ome_zarr(url, channel_map)
    return index_remote_gallery(url)


def index_phenix_folder_file(
    path: Path, channel_map: Mapping[int, str] | str | None
) -> pd.DataFrame | None:
    """Index the whole field a single Phenix-named channel file belongs to (None otherwise)."""
    match = PHENIX_FILENAME.match(path.name)
    if match is None:
        return None
    fields = index_phenix_folder(path.parent, parse_channel_map(channel_map))
    stem = path.name.split("-ch")[0]
    same_field = [
        any(
            isinstance(name, str) and name.startswith(stem)
            for name in row[[c for c in fields.columns if c.startswith("FileName_")]]
        )
        for _, row in fields.iterrows()
    ]
    selected = fields[same_field].reset_index(drop=True)
    if selected.empty:
        raise PlateFormatError(f"{path} is not listed by the channel map in use")
    return selected

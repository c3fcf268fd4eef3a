"""The Cell Painting Gallery layout (cpg0000 = CPJUMP1, cpg0016 = JUMP, ...).

A source (one data-generating centre) is laid out as::

    <source>/images/<batch>/images/<plate>[__timestamp]/Images/*.tiff
    <source>/images/<batch>/illum/<plate>/<plate>_Illum<CH>.npy
    <source>/workspace/load_data_csv/<batch>/<plate>/load_data.csv[.gz]
    <source>/workspace/load_data_csv/<batch>/<plate>/load_data_with_illum.csv[.gz]

The LoadData CSVs are the index (``index_load_data_csv`` maps their S3 folders onto the
local tree); this module only finds them and picks one per plate, on disk or on S3
(``index_remote_gallery``: only the ``workspace/load_data_csv`` prefix is listed).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from napari_phenoscope.constants import CHANNELS, LOAD_DATA_NAMES
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io.illum import illum_path, is_illum_corrected
from napari_phenoscope.io.loaddata import index_load_data_csv
from napari_phenoscope.io.remote import as_url, list_objects, url_parent
from napari_phenoscope.io.remote import exists as remote_exists


def load_data_root(path: str | Path) -> Path | None:
    """The ``workspace/load_data_csv`` folder a Gallery path belongs to, or None.

    ``path`` may be the source folder, its ``workspace`` or ``load_data_csv`` folder, a
    batch or plate folder below it, or a plate's image folder under ``images/<batch>/``.
    """
    path = Path(path).resolve()
    for folder in (path, *path.parents):
        if folder.name == "load_data_csv" and folder.parent.name == "workspace":
            return folder
        candidate = folder / "workspace" / "load_data_csv"
        if candidate.is_dir():
            return candidate
    return None


def is_gallery_path(path: str | Path) -> bool:
    """True when ``path`` is inside a Gallery source that has LoadData CSVs."""
    return load_data_root(path) is not None


def find_load_data_csvs(path: str | Path) -> list[Path]:
    """One LoadData CSV per plate folder below ``path`` (a Gallery path, see above).

    Per plate, ``load_data_with_illum`` is preferred when the illumination functions its
    first row names exist locally, else ``load_data`` (``.csv`` before ``.csv.gz``).
    """
    path = Path(path).resolve()
    root = load_data_root(path)
    if root is None:
        return []
    search = path if _is_below(path, root) else root
    if not _is_below(path, root):
        plate = _plate_of_image_folder(path)
        if plate is not None:
            search = next((p for p in root.glob(f"*/{plate}") if p.is_dir()), root)
    by_plate: dict[Path, list[Path]] = {}
    for name in LOAD_DATA_NAMES:
        for csv in sorted(search.rglob(name)):
            by_plate.setdefault(csv.parent, []).append(csv)
    return [_choose(candidates) for _, candidates in sorted(by_plate.items())]


def _is_below(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _plate_of_image_folder(path: Path) -> str | None:
    """``.../images/<batch>/images/<plate>__ts[/Images]`` -> ``<plate>``."""
    for folder in (path, *path.parents):
        if folder.parent.name == "images" and folder.parent.parent.parent.name == "images":
            return folder.name.split("__", 1)[0]
    return None


def _choose(candidates: list[Path]) -> Path:
    with_illum = [c for c in candidates if "with_illum" in c.name]
    plain = [c for c in candidates if "with_illum" not in c.name]
    for csv in with_illum:
        if _illum_available(csv) or not plain:
            return csv
    return plain[0]


def _illum_available(csv: Path) -> bool:
    try:
        first = index_load_data_csv(csv).iloc[0].to_dict()
    except PlateFormatError:
        return False
    if not is_illum_corrected(first):
        return False
    paths = [illum_path(first, channel) for channel in CHANNELS]
    return all(path.is_file() for path in paths if path is not None)


def index_gallery(path: str | Path) -> pd.DataFrame:
    """Index every plate of a Gallery source (or of the batch / plate given).

    Returns
    -------
    pandas.DataFrame
        The LoadData field index of every plate found, with its ``Metadata_*`` columns and,
        from ``load_data_with_illum``, its illumination functions.

    Raises
    ------
    PlateFormatError
        If no LoadData CSV is found below ``path``'s ``workspace/load_data_csv``.
    """
    csvs = find_load_data_csvs(path)
    if not csvs:
        raise PlateFormatError(
            f"no load_data.csv(.gz) for {path} under workspace/load_data_csv/<batch>/<plate>/"
        )
    return pd.concat([index_load_data_csv(csv) for csv in csvs], ignore_index=True)


# --- Gallery sources on S3 ------------------------------------------------------------------


def remote_load_data_prefix(url: str) -> str | None:
    """The ``workspace/load_data_csv`` prefix to search for a Gallery URL, or None.

    ``url`` may be the source, its ``workspace`` or ``load_data_csv`` prefix, a batch or
    plate below it, or a plate's image prefix (``images/<batch>/images/<plate>__ts/``):
    the plate's CSV folder is found from the names alone, never by listing images.
    """
    parts = as_url(url).rstrip("/").split("/")
    for index in range(3, len(parts) - 1):
        if parts[index] == "workspace" and parts[index + 1] == "load_data_csv":
            return "/".join(parts)
    for index in range(3, len(parts) - 2):
        if parts[index] == "images" and parts[index + 2] == "images":
            source, batch = "/".join(parts[:index]), parts[index + 1]
            prefix = f"{source}/workspace/load_data_csv/{batch}"
            if len(parts) > index + 3:
                prefix += "/" + parts[index + 3].split("__", 1)[0]
            return prefix
    if parts[-1] == "workspace":
        return "/".join(parts) + "/load_data_csv"
    return "/".join(parts) + "/workspace/load_data_csv"


def find_remote_load_data_csvs(url: str) -> list[str]:
    """One LoadData CSV URL per plate below a Gallery URL (the CSV prefix only is listed).

    Per plate, ``load_data_with_illum`` is preferred when the illumination functions its
    first row names exist, else ``load_data`` (``.csv`` before ``.csv.gz``).
    """
    prefix = remote_load_data_prefix(url)
    if prefix is None:
        return []
    by_plate: dict[str, list[str]] = {}
    names = list(LOAD_DATA_NAMES)
    for found in list_objects(f"{prefix}/**"):
        if found.rsplit("/", 1)[-1] in names:
            by_plate.setdefault(url_parent(found), []).append(found)
    chosen = []
    for _, candidates in sorted(by_plate.items()):
        candidates.sort(key=lambda found: names.index(found.rsplit("/", 1)[-1]))
        with_illum = [c for c in candidates if "with_illum" in c]
        plain = [c for c in candidates if "with_illum" not in c]
        pick = next((c for c in with_illum if _remote_illum_available(c)), None)
        chosen.append(pick or (plain[0] if plain else with_illum[0]))
    return chosen


def _remote_illum_available(csv_url: str) -> bool:
    first = index_load_data_csv(csv_url).iloc[0].to_dict()
    paths = [illum_path(first, channel) for channel in CHANNELS]
    listed = [path for path in paths if path is not None]
    return bool(listed) and all(remote_exists(path) for path in listed)


def index_remote_gallery(url: str) -> pd.DataFrame:
    """Index the plates of a Gallery source, batch or plate on S3 from their LoadData CSVs.

    Raises
    ------
    PlateFormatError
        If no LoadData CSV is found under the URL's ``workspace/load_data_csv``.
    """
    csvs = find_remote_load_data_csvs(url)
    if not csvs:
        raise PlateFormatError(
            f"no load_data.csv(.gz) for {as_url(url)} under "
            f"{remote_load_data_prefix(url)}/<batch>/<plate>/: give a Gallery source, batch, "
            "plate or LoadData CSV URL"
        )
    return pd.concat([index_load_data_csv(csv) for csv in csvs], ignore_index=True)

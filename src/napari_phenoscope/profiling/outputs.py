"""The files of a profiling run: field caches, the tables it writes, and reading them back.

``pipeline.profile_plates`` caches each field's cells in
``OUT/fields/<plate>/<well>_s<site>.parquet`` (``write_parquet_atomic``: a temporary file,
then a rename, so a file that exists is complete, with the feature sets and model in its
schema metadata), then ``assemble_outputs`` concatenates them into
``OUT/single_cells.parquet`` and ``OUT/well_profiles_<featureset>.parquet``;
``read_pipeline_output`` (the Profile dock's "Load pipeline output") reads them back.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from napari_phenoscope.constants import (
    CELL_AREA,
    CENTER_X,
    CENTER_Y,
    CHANNELS,
    LABEL,
    NUCLEUS_AREA,
    OBJECT_NUMBER,
    PLATE,
    SITE,
    WELL,
)
from napari_phenoscope.errors import PlateFormatError, ProfileTableError
from napari_phenoscope.io.fields import iter_fields
from napari_phenoscope.profiling.wells import well_profiles

FEATURE_SETS: tuple[str, ...] = ("vit", "classical")
VIT_PREFIX = "Cells_ViT_"
_CACHE_KEY = b"phenoscope"  # parquet key-value metadata: feature sets and model of a field


@dataclass(frozen=True)
class ProfileOutputs:
    """What ``profile_plates`` wrote.

    Attributes
    ----------
    single_cells
        Path of the single-cell Parquet file.
    well_profiles
        Path of the well-profile Parquet file per feature set.
    feature_columns
        Feature columns per feature set.
    n_fields, n_fields_computed
        Fields in the run, and those computed in this call (the rest came from the cache).
    n_cells
        Rows of the single-cell table.
    """

    single_cells: Path
    well_profiles: dict[str, Path]
    feature_columns: dict[str, list[str]] = field(repr=False)
    n_fields: int
    n_fields_computed: int
    n_cells: int


def field_cache_path(out_dir: str | Path, plate: str, well: str, site: int) -> Path:
    """Where the cells of one field are cached: ``OUT/fields/<plate>/<well>_s<site>.parquet``."""
    return Path(out_dir) / "fields" / str(plate) / f"{well}_s{int(site)}.parquet"


def write_parquet_atomic(
    table: pd.DataFrame, path: str | Path, metadata: dict[str, Any] | None = None
) -> Path:
    """Write ``table`` to ``path`` through a temporary file and a rename.

    A reader (or a resumed run) never sees a half-written file: either the old file, no
    file, or the complete new one. ``metadata`` is stored as JSON in the file's schema.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    if metadata is not None:
        merged = dict(arrow.schema.metadata or {})
        merged[_CACHE_KEY] = json.dumps(metadata, sort_keys=True).encode()
        arrow = arrow.replace_schema_metadata(merged)
    # unique per writer: two Dask workers (other hosts, same pid) may write the same field
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(arrow, temporary)
        os.replace(temporary, path)
    except OSError as error:
        if error.filename is not None:
            raise
        # Arrow's write errors (a full disk) name no file: name the one being written
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error
    finally:
        temporary.unlink(missing_ok=True)
    return path


def cache_matches(path: Path, signature: dict[str, Any]) -> bool:
    """True when a cached field holds every requested feature set, from the same model."""
    if not path.is_file():
        return False
    try:
        stored = pq.read_schema(path).metadata or {}
        cached = json.loads(stored.get(_CACHE_KEY, b"{}"))
    except (OSError, ValueError, pa.ArrowInvalid):
        return False  # a foreign or damaged file is recomputed, never trusted
    if not set(signature["feature_sets"]) <= set(cached.get("feature_sets", ())):
        return False
    # caches written before the input was recorded were raw pixels at the image scale
    if cached.get("input", {"illum": False, "pixel_size": None}) != signature.get("input"):
        return False
    if "classical" in signature["feature_sets"] and cached.get("classical") != signature.get(
        "classical"
    ):
        return False  # measured with other classical definitions
    return "vit" not in signature["feature_sets"] or cached.get("model") == signature["model"]


def read_cached_fields(
    fields: pd.DataFrame, out_dir: Path, feature_sets: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Concatenate the cached cells of the run's fields, keeping only the chosen sets."""
    tables = []
    for cached in iter_fields(fields):
        # small files: the plain reader without a thread pool is 2-3x faster per file
        table = pq.ParquetFile(field_cache_path(out_dir, *cached.key)).read(use_threads=False)
        if table.num_rows:
            tables.append(table.replace_schema_metadata(None))
    if not tables:
        raise PlateFormatError(
            f"segmentation found no cells in any of the {len(fields)} fields of "
            f"{', '.join(dict.fromkeys(fields['_source']))}"
        )
    # one Arrow concatenation and one conversion: per-file pandas conversion dominated
    cells = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    from napari_phenoscope.features.classical import classical_feature_names

    available = {
        "vit": [c for c in cells.columns if c.startswith(VIT_PREFIX)],
        "classical": classical_feature_names(CHANNELS),
    }
    feature_columns = {name: available[name] for name in feature_sets}
    # a cache computed for more sets than this run asked for: drop the others' columns,
    # but keep the segmentation's own areas, which share classical names
    unwanted = {c for name in FEATURE_SETS if name not in feature_sets for c in available[name]}
    unwanted -= {NUCLEUS_AREA, CELL_AREA}
    return cells.drop(columns=[c for c in cells.columns if c in unwanted]), feature_columns


def assemble_outputs(
    fields: pd.DataFrame,
    well_metadata: pd.DataFrame,
    feature_sets: Sequence[str],
    out_dir: Path,
    n_computed: int,
) -> ProfileOutputs:
    """Concatenate the field caches into the single-cell table and the well profiles."""
    cells, feature_columns = read_cached_fields(fields, out_dir, feature_sets)
    # one row per well (``io.annotate_wells``): LoadData metadata, plate maps, tables
    cells = cells.merge(well_metadata, on=[PLATE, WELL], how="left", validate="many_to_one")
    features = [c for columns in feature_columns.values() for c in columns]
    leading = [PLATE, WELL, SITE, OBJECT_NUMBER, LABEL, CENTER_X, CENTER_Y]
    leading = [c for c in leading if c in cells.columns]
    metadata = [c for c in cells.columns if c.startswith("Metadata_") and c not in leading]
    other = [c for c in cells.columns if c not in {*leading, *metadata, *features}]
    cells = cells[[*leading, *metadata, *other, *features]]
    single_cells = write_parquet_atomic(cells, out_dir / "single_cells.parquet")
    written = {}
    for name, columns in feature_columns.items():
        profiles = well_profiles(cells, columns)
        written[name] = write_parquet_atomic(profiles, out_dir / f"well_profiles_{name}.parquet")
    return ProfileOutputs(
        single_cells=single_cells,
        well_profiles=written,
        feature_columns=feature_columns,
        n_fields=len(fields),
        n_fields_computed=n_computed,
        n_cells=len(cells),
    )


def read_pipeline_output(
    out_dir: str | Path,
) -> tuple[pd.DataFrame, dict[str, list[str]], dict[str, pd.DataFrame]]:
    """Read what ``phenoscope profile`` wrote: cells, their feature columns, well profiles.

    Parameters
    ----------
    out_dir
        The output folder of ``pipeline.profile_plates``.

    Returns
    -------
    cells : pandas.DataFrame
        ``single_cells.parquet``.
    feature_columns : dict
        Feature columns of ``cells`` per feature set found in it.
    well_profiles : dict
        ``well_profiles_<feature set>.parquet`` per feature set.

    Raises
    ------
    ProfileTableError
        If the folder holds no ``single_cells.parquet``.
    """
    from napari_phenoscope.features.classical import classical_feature_names

    out_dir = Path(out_dir)
    single_cells = out_dir / "single_cells.parquet"
    if not single_cells.is_file():
        raise ProfileTableError(f"no single_cells.parquet in {out_dir}: run phenoscope profile")
    cells = pd.read_parquet(single_cells)
    feature_columns: dict[str, list[str]] = {}
    vit = [c for c in cells.columns if c.startswith(VIT_PREFIX)]
    classical = [c for c in classical_feature_names(CHANNELS) if c in cells.columns]
    for name, columns in (("vit", vit), ("classical", classical)):
        if columns:
            feature_columns[name] = columns
    well_profiles = {
        path.stem.removeprefix("well_profiles_"): pd.read_parquet(path)
        for path in sorted(out_dir.glob("well_profiles_*.parquet"))
    }
    return cells, feature_columns, well_profiles

# Long (~420 lines): the writer and the one reader of a run's files stay together, so the file
# layout (names, schema metadata, feature sets) is defined in one place.
"""The files of a profiling run: field caches, the tables it writes, and reading them back.

``pipeline.profile_plates`` caches each field's cells in
``OUT/fields/<plate>/<well>_s<site>.parquet`` (``write_parquet_atomic``: a temporary file,
then a rename, so a file that exists is complete, with the feature sets and model in its
schema metadata), then ``assemble_outputs`` streams them, a batch of whole wells at a
time, into ``OUT/single_cells.parquet`` and ``OUT/well_profiles_<featureset>.parquet``;
``read_pipeline_output``, the one reader of such a folder (the Profile dock's "Load pipeline
output", the Compare dock, ``phenoscope explain``), reads them back.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

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
    is_metadata_column,
)
from napari_phenoscope.errors import PlateFormatError, ProfileTableError, QualityControlError
from napari_phenoscope.features.classical import classical_feature_names
from napari_phenoscope.io.fields import iter_fields
from napari_phenoscope.io.output_folder import atomic_path
from napari_phenoscope.io.profiles import feature_columns, read_profiles
from napari_phenoscope.profiling.wells import normalise_well_medians, well_medians

FEATURE_SETS: tuple[str, ...] = ("vit", "classical")
VIT_PREFIX = "Cells_ViT_"
_CACHE_KEY = b"phenoscope"  # parquet key-value metadata: feature sets and model of a field
# Cells assembled at a time (whole wells): pandas and Arrow cost a fixed time per column and
# call, so one well at a time spent 0.9 s per well on ~1,700 columns (the demo's 384 wells of
# ~34 cells: 104 s of 110); 8,192 cells x 1,700 float64 features is ~110 MB per copy.
ROWS_PER_BATCH = 8192
READ_THREADS = 2
READ_AHEAD = 4  # wells whose field caches are read ahead of the one being assembled


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
    n_cells_profiled
        Cells passing QC that the well profiles were computed from (``--qc exclude``).
    """

    single_cells: Path
    well_profiles: dict[str, Path]
    feature_columns: dict[str, list[str]] = field(repr=False)
    n_fields: int
    n_fields_computed: int
    n_cells: int
    n_cells_profiled: int | None = None  # cells in the well profiles (None: all, no QC)


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
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    if metadata is not None:
        merged = dict(arrow.schema.metadata or {})
        merged[_CACHE_KEY] = json.dumps(metadata, sort_keys=True).encode()
        arrow = arrow.replace_schema_metadata(merged)
    with atomic_path(path) as temporary:
        pq.write_table(arrow, temporary)
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


def _cached_wells(fields: pd.DataFrame, out_dir: Path) -> Iterator[list[pa.Table]]:
    """The cached cells of the run's fields, one list of Arrow tables per well (wells in
    order of first appearance, each well's fields in the run's order; fields without
    cells left out, so a well without cells is an empty list)."""
    by_well: dict[tuple[str, str], list[Path]] = {}
    for cached in iter_fields(fields):
        plate, well, _ = cached.key
        by_well.setdefault((str(plate), str(well)), []).append(
            field_cache_path(out_dir, *cached.key)
        )
    # Arrow reads without the GIL: two files at a time, at most READ_AHEAD wells ahead of
    # the one being assembled, so memory stays about one batch
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        pending: deque[Future[list[pa.Table]]] = deque()
        for paths in by_well.values():
            pending.append(pool.submit(_read_well, paths))
            if len(pending) > READ_AHEAD:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _read_well(paths: list[Path]) -> list[pa.Table]:
    # small files: the plain reader without a thread pool is 2-3x faster per file
    tables = [pq.ParquetFile(path).read(use_threads=False) for path in paths]
    return [table.replace_schema_metadata(None) for table in tables if table.num_rows]


def _cached_batches(fields: pd.DataFrame, out_dir: Path, max_rows: int) -> Iterator[pa.Table]:
    """Whole wells of cached cells, gathered into tables of about ``max_rows`` rows (a well
    is never split; a well larger than ``max_rows`` is a batch on its own)."""
    batch: list[pa.Table] = []
    rows = 0
    for tables in _cached_wells(fields, out_dir):
        batch.extend(tables)
        rows += sum(table.num_rows for table in tables)
        if rows >= max_rows:
            yield pa.concat_tables(batch, promote_options="permissive")
            batch, rows = [], 0
    if batch:
        yield pa.concat_tables(batch, promote_options="permissive")


def _feature_columns(columns: Sequence[str], feature_sets: Sequence[str]) -> dict[str, list[str]]:
    available = {
        "vit": [c for c in columns if c.startswith(VIT_PREFIX)],
        "classical": classical_feature_names(CHANNELS),
    }
    return {name: available[name] for name in feature_sets}


def _unwanted_columns(columns: Sequence[str], feature_sets: Sequence[str]) -> set[str]:
    """A cache computed for more sets than this run asked for: the others' columns, but not
    the segmentation's own areas, which share classical names."""
    available = _feature_columns(columns, FEATURE_SETS)
    unwanted = {c for name in FEATURE_SETS if name not in feature_sets for c in available[name]}
    return unwanted - {NUCLEUS_AREA, CELL_AREA}


def _metadata_dtypes(fields: pd.DataFrame, well_metadata: pd.DataFrame) -> dict[str, Any]:
    """The dtypes the well metadata takes when joined to every well of the run at once
    (a well missing from it turns an integer column into float), so every batch of the
    single-cell table is written with the same types."""
    keys = fields[[PLATE, WELL]].astype(str).drop_duplicates()
    joined = keys.merge(well_metadata, on=[PLATE, WELL], how="left")
    return {c: joined[c].dtype for c in well_metadata.columns if c not in (PLATE, WELL)}


def _schema_of(cells: pd.DataFrame) -> pa.Schema:
    """Arrow schema of the single-cell table; a column empty in the first batch is text."""
    schema = pa.Schema.from_pandas(cells, preserve_index=False)
    for index, column in enumerate(schema):
        if pa.types.is_null(column.type):
            schema = schema.set(index, column.with_type(pa.string()))
    return schema


def assemble_outputs(
    fields: pd.DataFrame,
    well_metadata: pd.DataFrame,
    feature_sets: Sequence[str],
    out_dir: Path,
    n_computed: int,
    cell_qc: pd.DataFrame | None = None,
    exclude: bool = False,
) -> ProfileOutputs:
    """Stream the field caches, a batch of whole wells at a time, into the single-cell table
    and the well profiles.

    Each batch (wells gathered up to ``ROWS_PER_BATCH`` cells) is written as a row group of
    ``single_cells.parquet`` and reduced to its per-well medians (``wells.well_medians``);
    the small table of medians is then normalised and selected
    (``wells.normalise_well_medians``), giving the same profiles as ``well_profiles`` of
    the whole table. Peak memory is one batch's cells, not the plate's (a 384-well plate of
    1080 px fields holds ~240k cells x ~1,700 features).

    ``cell_qc`` (plate, well, site, label, ``QC_pass``, ``QC_reason``: ``profiling.quality``)
    adds its two columns to every cell; with ``exclude`` the well profiles are computed
    from the passing cells only (the single-cell table keeps every cell and its reason).
    """
    dtypes = _metadata_dtypes(fields, well_metadata)
    feature_columns: dict[str, list[str]] | None = None
    unwanted: set[str] = set()
    columns: list[str] = []
    medians: dict[str, list[pd.DataFrame]] = {name: [] for name in feature_sets}
    n_cells = n_profiled = 0
    single_cells = out_dir / "single_cells.parquet"
    writer: pq.ParquetWriter | None = None
    with atomic_path(single_cells) as temporary:
        try:
            for table in _cached_batches(fields, out_dir, ROWS_PER_BATCH):
                cells = table.to_pandas()
                if feature_columns is None:
                    feature_columns = _feature_columns(cells.columns, feature_sets)
                    unwanted = _unwanted_columns(cells.columns, feature_sets)
                cells = cells.drop(columns=[c for c in cells.columns if c in unwanted])
                # one row per well (``io.annotate_wells``): LoadData metadata, plate maps
                cells = cells.merge(
                    well_metadata, on=[PLATE, WELL], how="left", validate="many_to_one"
                )
                cells = cells.astype({c: t for c, t in dtypes.items() if c in cells.columns})
                if cell_qc is not None:
                    cells = _join_qc(cells, cell_qc)
                if writer is None:
                    columns = _ordered_columns(list(cells.columns), feature_columns)
                    schema = _schema_of(cells[columns])
                    writer = pq.ParquetWriter(temporary, schema)
                cells = cells.reindex(columns=columns).copy()  # one block per dtype again
                writer.write_table(pa.Table.from_pandas(cells, schema=schema, preserve_index=False))
                profiled = cells[cells["QC_pass"]] if exclude and cell_qc is not None else cells
                for name, names in feature_columns.items():
                    if len(profiled):
                        medians[name].append(well_medians(profiled, names))
                n_cells += len(cells)
                n_profiled += len(profiled)
        finally:
            if writer is not None:
                writer.close()
        if writer is None or feature_columns is None:
            raise PlateFormatError(
                f"segmentation found no cells in any of the {len(fields)} fields of "
                f"{', '.join(dict.fromkeys(fields['_source']))}"
            )
    if not any(medians.values()):
        raise QualityControlError(
            f"no cell passed QC in the {len(fields)} fields: see qc_cells.parquet, or "
            "profile with --qc flag"
        )
    written = {}
    for name, names in feature_columns.items():
        profiles = normalise_well_medians(pd.concat(medians[name], ignore_index=True), names)
        written[name] = write_parquet_atomic(profiles, out_dir / f"well_profiles_{name}.parquet")
    return ProfileOutputs(
        single_cells=single_cells,
        well_profiles=written,
        feature_columns=feature_columns,
        n_fields=len(fields),
        n_fields_computed=n_computed,
        n_cells=n_cells,
        n_cells_profiled=n_profiled if cell_qc is not None else None,
    )


def _join_qc(cells: pd.DataFrame, cell_qc: pd.DataFrame) -> pd.DataFrame:
    """``QC_pass`` / ``QC_reason`` of each cell (a cell QC never saw fails, saying so)."""
    keys = [PLATE, WELL, SITE, LABEL]
    joined = cells.merge(cell_qc, on=keys, how="left", validate="one_to_one")
    unseen = joined["QC_pass"].isna()
    joined["QC_pass"] = joined["QC_pass"].where(~unseen, False).astype(bool)
    joined["QC_reason"] = joined["QC_reason"].where(~unseen, "not measured by QC").astype(str)
    return joined


def _ordered_columns(columns: list[str], feature_columns: dict[str, list[str]]) -> list[str]:
    """Location and identity first, then the well's metadata, other columns, features."""
    features = [c for names in feature_columns.values() for c in names]
    leading = [PLATE, WELL, SITE, OBJECT_NUMBER, LABEL, CENTER_X, CENTER_Y]
    leading = [c for c in leading if c in columns]
    metadata = [c for c in columns if c.startswith("Metadata_") and c not in leading]
    other = [c for c in columns if c not in {*leading, *metadata, *features}]
    return [*leading, *metadata, *other, *features]


class PipelineOutput(NamedTuple):
    """What :func:`read_pipeline_output` read back (a tuple, in this order).

    Attributes
    ----------
    cells
        ``single_cells.parquet`` (all its columns, or only those the well profiles need),
        or None where the output has no single cells.
    feature_columns
        Feature columns of ``cells`` per feature set found in it.
    well_profiles
        ``well_profiles_<feature set>.parquet`` per feature set.
    """

    cells: pd.DataFrame | None
    feature_columns: dict[str, list[str]]
    well_profiles: dict[str, pd.DataFrame]


def read_pipeline_output(
    path: str | Path,
    need: Literal["cells", "well_profiles"] = "cells",
    cell_columns: Literal["all", "profiled"] = "all",
) -> PipelineOutput:
    """Read what ``phenoscope profile`` wrote: cells, their feature columns, well profiles.

    The one reader of an output folder: the Profile dock's "Load pipeline output" reads
    the cells, ``phenoscope explain`` and the Compare dock read the well profiles.

    Parameters
    ----------
    path
        The output folder of ``pipeline.profile_plates``; with ``need="well_profiles"``
        also one well-profile table (its feature set named after the file, no cells).
    need
        What must be there: ``"cells"`` (``single_cells.parquet``) or ``"well_profiles"``
        (at least one ``well_profiles_<feature set>.parquet``); the other is read if there.
    cell_columns
        ``"all"`` columns of the single cells, or ``"profiled"``: only their metadata,
        label, centre and the features of the well profiles (a fraction of the memory
        where cells were measured with more features than were profiled).

    Returns
    -------
    PipelineOutput
        ``(cells, feature_columns, well_profiles)``.

    Raises
    ------
    ProfileTableError
        If what ``need`` names is missing, or a table cannot be read.
    """
    path = Path(path)
    if need == "well_profiles" and not path.is_dir():
        name = path.name.split(".")[0].removeprefix("well_profiles_")
        return PipelineOutput(None, {}, {name: read_profiles(path)})
    single_cells = path / "single_cells.parquet"
    if need == "cells" and not single_cells.is_file():
        raise ProfileTableError(f"no single_cells.parquet in {path}: run phenoscope profile")
    well_profiles = {
        table.name.removesuffix(".parquet").removeprefix("well_profiles_"): read_profiles(table)
        for table in sorted(path.glob("well_profiles_*.parquet"))
    }
    if need == "well_profiles" and not well_profiles:
        raise ProfileTableError(
            f"{path}: no well_profiles_<features>.parquet (run phenoscope profile)"
        )
    if not single_cells.is_file():
        return PipelineOutput(None, {}, well_profiles)
    names = None
    if cell_columns == "profiled":
        wanted = {LABEL, CENTER_X, CENTER_Y}
        for table in well_profiles.values():
            wanted |= set(feature_columns(table, numeric_only=True))
        names = [
            n for n in pq.read_schema(single_cells).names if is_metadata_column(n) or n in wanted
        ]
    cells = pd.read_parquet(single_cells, columns=names)
    return PipelineOutput(cells, cell_feature_columns(cells.columns), well_profiles)


def cell_feature_columns(columns: Sequence[str]) -> dict[str, list[str]]:
    """The columns of each feature set (ViT, classical) among a cell table's ``columns``."""
    found = {
        "vit": [c for c in columns if c.startswith(VIT_PREFIX)],
        "classical": [c for c in classical_feature_names(CHANNELS) if c in set(columns)],
    }
    return {name: names for name, names in found.items() if names}

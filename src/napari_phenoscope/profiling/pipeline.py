"""The headless plate -> profiles run: read, segment, crop, embed / measure, aggregate.

``profile_plates`` streams field by field and caches each field's cells in
``OUT/fields/<plate>/<well>_s<site>.parquet`` (written to a temporary file, then renamed, so
a file that exists is complete). A rerun after an interruption skips every cached field whose
feature sets and model match, and only then concatenates:

- ``OUT/single_cells.parquet``: one row per cell (plate, well, site, object number, label,
  centroid, the well's perturbation metadata, every feature column);
- ``OUT/well_profiles_<featureset>.parquet``: median per well, robust-normalised to the
  negative controls of its plate, feature-selected (``profiles`` module, pycytominer
  semantics).
"""

from __future__ import annotations

import functools
import json
import os
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from napari_phenoscope.constants import (
    CELL_AREA,
    CENTER_X,
    CENTER_Y,
    CHANNELS,
    NUCLEUS_AREA,
    OBJECT_NUMBER,
    PLATE,
    SITE,
    WELL,
)
from napari_phenoscope.errors import (
    ModelWeightsError,
    PhenoscopeError,
    PlateFormatError,
    ProfileTableError,
)

FEATURE_SETS: tuple[str, ...] = ("vit", "classical")
LABEL = "label"
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


def parse_feature_sets(choice: str | Sequence[str]) -> tuple[str, ...]:
    """``"both"`` -> ("vit", "classical"); validate names, keep order, drop repeats."""
    names = [choice] if isinstance(choice, str) else list(choice)
    expanded: list[str] = []
    for name in names:
        for part in FEATURE_SETS if name == "both" else (name,):
            if part not in FEATURE_SETS:
                raise PhenoscopeError(
                    f"unknown feature set {part!r}; choose from vit, classical, both"
                )
            if part not in expanded:
                expanded.append(part)
    if not expanded:
        raise PhenoscopeError("no feature set chosen; choose from vit, classical, both")
    return tuple(expanded)


def vit_feature_names(dimension: int) -> list[str]:
    """Column names of ViT embedding features (``Cells_ViT_0000`` ...)."""
    return [f"{VIT_PREFIX}{i:04d}" for i in range(dimension)]


def resolve_device(choice: str) -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is usable, else ``"cpu"``; check explicit choices.

    Raises
    ------
    PhenoscopeError
        If ``"cuda"`` is asked for without a CUDA GPU.
    """
    import torch

    from napari_phenoscope.models import resolve_device as torch_device

    device = torch_device(choice)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PhenoscopeError(f"device {choice} was chosen but no CUDA GPU is available")
    return str(device)


def measure_field(
    image: np.ndarray,
    key: tuple[str, str, int],
    feature_sets: Sequence[str] = ("vit",),
    encoder: Any = None,
    device: str = "cpu",
    batch_size: int = 64,
    segmentation: Any = None,
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Segment one field and measure its cells with the chosen feature sets.

    Parameters
    ----------
    image
        (C, Y, X) field in ``CHANNELS`` order.
    key
        (plate, well, site) written into every row.
    feature_sets
        ``"vit"`` (encoder embeddings of single-cell crops) and/or ``"classical"``.
    encoder
        The encoder (``models.load_encoder()``); needed for ``"vit"``.
    device
        Torch device of the encoder.
    batch_size
        Crops per encoder batch.
    segmentation
        A ``segment_field`` result of this image to reuse (the viewer keeps its label
        images); segmented here if None.

    Returns
    -------
    table : pandas.DataFrame
        One row per cell: plate, well, site, ``Metadata_ObjectNumber``, ``label``, centroid,
        the segmentation's areas and the feature columns (no rows if no cell was found).
    feature_columns : dict
        Feature columns of ``table`` per feature set.
    """
    if segmentation is None:
        from napari_phenoscope.segmentation.field import segment_field

        segmentation = segment_field(image, channels=CHANNELS)
    table = segmentation.table.copy().reset_index(drop=True)
    plate, well, site = key
    table.insert(0, PLATE, str(plate))
    table.insert(1, WELL, str(well))
    table.insert(2, SITE, int(site))
    if OBJECT_NUMBER not in table.columns:
        table[OBJECT_NUMBER] = table[LABEL]
    columns: dict[str, list[str]] = {}
    if "classical" in feature_sets:
        from napari_phenoscope.features.classical import classical_feature_names, measure_cells

        classical = measure_cells(image, segmentation.nuclei, segmentation.cells, CHANNELS)
        names = classical_feature_names(CHANNELS)
        # measure_cells is the reference for every classical column (areas included)
        table = table.drop(columns=[c for c in names if c in table.columns])
        table = table.merge(classical, on=LABEL, how="left", validate="one_to_one")
        columns["classical"] = names
    if "vit" in feature_sets:
        if encoder is None:
            raise ValueError("feature set 'vit' needs an encoder")
        embeddings = _embed(image, table, encoder, device, batch_size)
        names = vit_feature_names(embeddings.shape[1])
        table = pd.concat([table, pd.DataFrame(embeddings, columns=names)], axis=1)
        columns["vit"] = names
    return table, columns


def _embed(
    image: np.ndarray, table: pd.DataFrame, encoder: Any, device: str, batch_size: int
) -> np.ndarray:
    from napari_phenoscope.features.crops import extract_crops
    from napari_phenoscope.models import embed_crops

    if table.empty:
        dimension = int(getattr(encoder, "embed_dim", getattr(encoder, "num_features", 0)))
        return np.zeros((0, dimension), dtype=np.float32)
    # crops as large as the encoder's input, so a model trained with --crop-size fits
    crop_size = int(encoder.patch_embed.img_size[0])
    crops = extract_crops(image, table, size=crop_size)
    embeddings = embed_crops(encoder, crops, batch_size=batch_size, device=device)
    return np.asarray(embeddings, dtype=np.float32)


# --- the plate run -------------------------------------------------------------------------


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
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _cache_matches(path: Path, signature: dict[str, Any]) -> bool:
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
    return "vit" not in signature["feature_sets"] or cached.get("model") == signature["model"]


def index_plates(
    plate_dirs: Iterable[str | Path],
    channel_map: str | None = None,
    wells: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Index the fields of every plate folder (duplicates once), optionally some wells only.

    Raises
    ------
    PlateFormatError
        Naming the folder, if it holds no fields (or none of the chosen wells).
    """
    from napari_phenoscope.io import index_plate

    indexes = []
    for plate_dir in plate_dirs:
        fields = index_plate(plate_dir, channel_map)
        if fields.empty:
            raise PlateFormatError(f"no image fields found in {plate_dir}")
        fields = fields.copy()
        fields["_source"] = str(plate_dir)
        if wells is not None:
            chosen = {well.strip().upper() for well in wells}
            fields = fields[fields[WELL].str.upper().isin(chosen)]
            if fields.empty:
                raise PlateFormatError(f"none of the wells {sorted(chosen)} is in {plate_dir}")
        indexes.append(fields)
    if not indexes:
        raise PlateFormatError("no plate folder given")
    fields = pd.concat(indexes, ignore_index=True)
    fields[SITE] = fields[SITE].astype(int)
    fields = fields.drop_duplicates([PLATE, WELL, SITE], keep="first")
    return fields.sort_values([PLATE, WELL, SITE], kind="stable").reset_index(drop=True)


def model_signature(model_path: str | Path | None) -> str:
    """Identify the encoder weights in the cache: SHA-256 of the file (bundled by default).

    Raises
    ------
    ModelWeightsError
        If ``model_path`` (or the bundled file) does not exist.
    """
    from napari_phenoscope.models.weights import bundled_weights_path, sha256_of

    path = bundled_weights_path() if model_path is None else Path(model_path)
    if not path.is_file():
        raise ModelWeightsError(f"weights file {path} does not exist")
    return sha256_of(path)


def profile_plates(
    plate_dirs: Sequence[str | Path],
    out_dir: str | Path,
    features: str | Sequence[str] = ("vit",),
    model_path: str | Path | None = None,
    device: str = "auto",
    wells: Sequence[str] | None = None,
    progress: bool = True,
    channel_map: str | None = None,
    missing: Literal["error", "zeros"] = "error",
    batch_size: int = 64,
    scheduler: str | None = None,
    workers: int | None = None,
) -> ProfileOutputs:
    """Profile plates into single-cell and well-level Parquet tables, resumably.

    Parameters
    ----------
    plate_dirs
        Project folders (``images/`` + ``metadata/``, CPJUMP1 layout) or plate image
        folders inside one; each needs plate maps at or above it.
    out_dir
        Output folder (created); its ``fields/`` cache makes reruns resume.
    features
        Feature sets: ``"vit"``, ``"classical"`` or ``"both"`` (or a sequence of them).
    model_path
        Encoder weights (safetensors); the bundled weights by default.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    wells
        Only these wells (e.g. ``["A01", "B02"]``); all by default.
    progress
        Show a progress bar over fields (tqdm, on stderr).
    channel_map
        Phenix channel number -> name, as ``index_plate`` takes it.
    missing
        ``"error"`` stops at a field lacking a channel file (naming it); ``"zeros"`` fills
        that channel with zeros.
    batch_size
        Crops per encoder batch.
    scheduler
        Address of a running Dask scheduler: one task per field on its workers (which
        need this package and must see the plate folders and ``out_dir``).
    workers
        Start a local Dask cluster of this many worker processes for the run. Neither:
        run in this process. Every mode writes the same field caches, so a run resumes
        in any mode (``profiling.execute``).

    Returns
    -------
    ProfileOutputs

    Raises
    ------
    PlateFormatError
        A plate folder with no fields, no plate maps, or an unreadable image (named).
    ProfileTableError
        A plate without negative-control wells to normalise to.
    """
    from napari_phenoscope.profiling.execute import check_execution, map_fields

    check_execution(scheduler, workers)
    feature_sets = parse_feature_sets(features)
    fields = index_plates(plate_dirs, channel_map=channel_map, wells=wells)
    well_metadata = _well_metadata(plate_dirs)
    _check_wells_annotated(fields, well_metadata)
    out_dir = Path(out_dir)
    for stale in (out_dir / "fields").glob("*/.*.tmp"):
        stale.unlink(missing_ok=True)  # left by a run killed mid-write; never read
    signature: dict[str, Any] = {"feature_sets": list(feature_sets), "model": None}
    if "vit" in feature_sets:
        signature["model"] = model_signature(model_path)
    cached = [
        _cache_matches(field_cache_path(out_dir, *_key(row)), signature)
        for row in fields.to_dict("records")
    ]
    todo = [row for row, done in zip(fields.to_dict("records"), cached, strict=True) if not done]
    if todo and "vit" in feature_sets and scheduler is None and workers is None:
        device = resolve_device(device)  # fail here; Dask workers resolve "auto" themselves
    job = FieldJob(
        out_dir=out_dir,
        feature_sets=feature_sets,
        signature=signature,
        model_path=None if model_path is None else str(model_path),
        device=device,
        batch_size=batch_size,
        missing=missing,
    )
    map_fields(
        job,
        todo,
        scheduler=scheduler,
        workers=workers,
        progress=progress,
        describe=lambda row: "{} {} s{}".format(*_key(row)),
        total=len(fields),
    )
    return _assemble(fields, well_metadata, feature_sets, out_dir, n_computed=len(todo))


@dataclass(frozen=True)
class FieldJob:
    """Profile one field-index row into its cache file; what a Dask task runs.

    Picklable and small: workers receive it once per task, load the encoder once per
    process (``cached_encoder``) and write the field's cache file themselves, atomically.
    Returns the number of cells.
    """

    out_dir: Path
    feature_sets: tuple[str, ...]
    signature: dict[str, Any]
    model_path: str | None = None
    device: str = "auto"
    batch_size: int = 64
    missing: Literal["error", "zeros"] = "error"

    def __call__(self, row: dict[str, Any]) -> int:
        from napari_phenoscope.io import read_field

        key = _key(row)
        image = read_field(row, channels=CHANNELS, missing=self.missing)
        device, encoder = self.device, None
        if "vit" in self.feature_sets:
            device = resolve_device(self.device)
            encoder = cached_encoder(self.model_path, self.signature["model"], device)
        table, _ = measure_field(image, key, self.feature_sets, encoder, device, self.batch_size)
        write_parquet_atomic(table, field_cache_path(self.out_dir, *key), self.signature)
        return len(table)


_ENCODER_LOCK = threading.Lock()


def cached_encoder(model_path: str | None, digest: str, device: str) -> Any:
    """The encoder of ``model_path`` on ``device``, loaded once per process and kept.

    ``digest`` (the weights' SHA-256) is part of the key, so weights rewritten at the same
    path are reloaded. The lock makes a multi-threaded Dask worker load it only once.
    """
    with _ENCODER_LOCK:
        return _load_encoder(model_path, digest, device)


@functools.lru_cache(maxsize=2)
def _load_encoder(model_path: str | None, digest: str, device: str) -> Any:
    from napari_phenoscope.models import load_encoder

    del digest  # only a cache key
    return load_encoder(model_path, device=device)


def _key(row: dict[str, Any]) -> tuple[str, str, int]:
    return str(row[PLATE]), str(row[WELL]), int(row[SITE])


def _well_metadata(plate_dirs: Sequence[str | Path]) -> pd.DataFrame:
    """Well metadata of every project the plate folders belong to (each read once)."""
    from napari_phenoscope.io import find_project_root, read_well_metadata

    roots = []
    for plate_dir in plate_dirs:
        root = find_project_root(plate_dir)
        if root is None:
            raise PlateFormatError(
                f"no metadata/platemaps folder at or above {plate_dir}: "
                "well profiles need the plate maps"
            )
        if root not in roots:
            roots.append(root)
    tables = [read_well_metadata(root) for root in roots]
    return pd.concat(tables, ignore_index=True).drop_duplicates([PLATE, WELL], keep="first")


def _check_wells_annotated(fields: pd.DataFrame, well_metadata: pd.DataFrame) -> None:
    """Fail before any work if an imaged well is not in the plate maps."""
    from napari_phenoscope.io import join_well_metadata

    join_well_metadata(fields[[PLATE, WELL]].drop_duplicates(), well_metadata)


def _read_cached_fields(
    fields: pd.DataFrame, out_dir: Path, feature_sets: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Concatenate the cached cells of the run's fields, keeping only the chosen sets."""
    tables = []
    for row in fields.to_dict("records"):
        # small files: the plain reader without a thread pool is 2-3x faster per file
        table = pq.ParquetFile(field_cache_path(out_dir, *_key(row))).read(use_threads=False)
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


def _assemble(
    fields: pd.DataFrame,
    well_metadata: pd.DataFrame,
    feature_sets: Sequence[str],
    out_dir: Path,
    n_computed: int,
) -> ProfileOutputs:
    """Concatenate the field caches into the single-cell table and the well profiles."""
    from napari_phenoscope.io import join_well_metadata

    cells, feature_columns = _read_cached_fields(fields, out_dir, feature_sets)
    cells = join_well_metadata(cells, well_metadata)
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


def well_profiles(cells: pd.DataFrame, feature_columns: Sequence[str]) -> pd.DataFrame:
    """Median-aggregate cells to wells, robust-normalise to negcon per plate, select features.

    Parameters
    ----------
    cells
        Single-cell table with the wells' ``Metadata_*`` annotations and ``feature_columns``.
    feature_columns
        The features of one feature set.

    Returns
    -------
    pandas.DataFrame
        One row per plate and well: the well's ``Metadata_*`` columns (with
        ``Metadata_Count_Cells``), then the selected features (pycytominer layout).

    Raises
    ------
    ProfileTableError
        If a plate has no negative-control well.

    Notes
    -----
    A feature whose negative controls do not vary on some plate (MAD 0, e.g. a minimum
    intensity that is 0 in every control well) cannot be normalised to them: it would be
    divided by pycytominer's epsilon and dominate every similarity, so it is dropped before
    the usual variance, correlation and NaN selection.
    """
    from napari_phenoscope.profiling import profiles

    features = list(feature_columns)
    well_metadata = [c for c in cells.columns if c.startswith("Metadata_") and c not in _PER_CELL]
    wells = cells[well_metadata].drop_duplicates([PLATE, WELL]).set_index([PLATE, WELL])
    counts = cells.groupby([PLATE, WELL]).size().rename(CELL_COUNT)
    medians = profiles.aggregate(cells[[PLATE, WELL, *features]], (PLATE, WELL), "median")
    table = wells.join(counts).join(medians.set_index([PLATE, WELL])).reset_index()
    _check_controls(table)
    table = table.drop(columns=_constant_in_controls(table, features))
    normalized = profiles.normalize(table, samples="negcon", by=PLATE)
    return profiles.feature_select(normalized).reset_index(drop=True).copy()  # defragment


_PER_CELL = (SITE, OBJECT_NUMBER)
CELL_COUNT = "Metadata_Count_Cells"


def _check_controls(table: pd.DataFrame) -> None:
    """Normalising to controls needs two negative-control wells per plate (a MAD)."""
    from napari_phenoscope.constants import CONTROL_TYPE, NEGATIVE_CONTROL

    is_control = table[CONTROL_TYPE] == NEGATIVE_CONTROL
    controls = is_control.groupby(table[PLATE]).sum()
    short = controls[controls < 2]
    if len(short):
        listed = ", ".join(f"{plate} ({count})" for plate, count in short.items())
        raise ProfileTableError(
            f"normalising to negative controls needs at least two control wells per plate; "
            f"plate(s) with fewer among the profiled wells: {listed}"
        )


def _constant_in_controls(table: pd.DataFrame, features: Sequence[str]) -> list[str]:
    """Features with zero MAD over the negative-control wells of at least one plate."""
    from napari_phenoscope.constants import CONTROL_TYPE, NEGATIVE_CONTROL

    controls = table[table[CONTROL_TYPE] == NEGATIVE_CONTROL]
    if controls.empty:
        return []  # normalize names the problem
    values = controls[list(features)]
    medians = values.groupby(controls[PLATE]).transform("median")
    mad = (values - medians).abs().groupby(controls[PLATE]).median()
    return [name for name in features if (mad[name] == 0).any()]

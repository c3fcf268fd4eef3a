# Long (~580 lines): the run (profile_plates) and one field's work (FieldJob, measure_field) share
# the cache signature that lets a rerun resume; where fields run, the files and QC are already
# apart (execute.py, outputs.py, quality.py).
"""The headless plate -> profiles run: read, segment, crop, embed / measure, aggregate.

``profile_plates`` streams field by field and caches each field's cells in
``OUT/fields/<plate>/<well>_s<site>.parquet`` (written to a temporary file, then renamed, so
a file that exists is complete). A rerun after an interruption skips every cached field whose
feature sets and model match, and only then concatenates:

- ``OUT/single_cells.parquet``: one row per cell (plate, well, site, object number, label,
  centroid, the well's perturbation metadata, every feature column);
- ``OUT/well_profiles_<featureset>.parquet``: median per well, robust-normalised to the
  negative controls of its plate, feature-selected (``wells`` module, pycytominer
  semantics).

The cache and output files (and reading them back) are the ``outputs`` module.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from napari_phenoscope.constants import (
    CHANNELS,
    LABEL,
    OBJECT_NUMBER,
    PLATE,
    SITE,
    WELL,
)
from napari_phenoscope.errors import (
    LabelsError,
    ModelWeightsError,
    PhenoscopeError,
    PlateFormatError,
)
from napari_phenoscope.features.classical import (
    CLASSICAL_DEFINITIONS,
    classical_feature_names,
    measure_cells,
)
from napari_phenoscope.features.crops import crop_scale, extract_crops
from napari_phenoscope.features.scaling import limits_per_plate
from napari_phenoscope.io import (
    annotate_wells,
    attach_illum_folder,
    index_plate,
    is_illum_corrected,
    iter_fields,
    output_folder,
    resolve_pixel_size,
)
from napari_phenoscope.profiling.execute import check_execution, map_fields
from napari_phenoscope.profiling.outputs import (
    FEATURE_SETS,
    VIT_PREFIX,
    ProfileOutputs,
    assemble_outputs,
    cache_matches,
    field_cache_path,
    write_parquet_atomic,
)
from napari_phenoscope.profiling.quality import (
    QCJob,
    check_qc_mode,
    fields_without_qc,
    judge_run,
    write_field_qc,
)
from napari_phenoscope.segmentation.batch import label_paths, select_wells
from napari_phenoscope.segmentation.field import segment_field
from napari_phenoscope.segmentation.given import fields_with_labels, read_field_labels

if TYPE_CHECKING:
    from napari_phenoscope.io.fields import Field


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


def measure_field(
    image: np.ndarray,
    key: tuple[str, str, int],
    feature_sets: Sequence[str] = ("vit",),
    encoder: Any = None,
    device: str = "cpu",
    batch_size: int = 64,
    segmentation: Any = None,
    pixel_size: float | None = None,
    normalization: Any = "field",
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
    pixel_size
        The image's pixel size (um), when known: segmentation keeps nucleus diameters
        physical, and crops are cut at the physical scale the encoder declares
        (``phenoscope_preprocessing.pixel_size_um``).
    normalization
        Crop scaling for the encoder, as the encoder's preprocessing asks: ``"field"`` or
        the plate's (5, 2) limits (``encoder_normalisation``).

    Returns
    -------
    table : pandas.DataFrame
        One row per cell: plate, well, site, ``Metadata_ObjectNumber``, ``label``, centroid,
        the segmentation's areas and the feature columns (no rows if no cell was found).
    feature_columns : dict
        Feature columns of ``table`` per feature set.
    """
    if segmentation is None:
        segmentation = segment_field(image, channels=CHANNELS, pixel_size=pixel_size)
    table = segmentation.table.copy().reset_index(drop=True)
    plate, well, site = key
    table.insert(0, PLATE, str(plate))
    table.insert(1, WELL, str(well))
    table.insert(2, SITE, int(site))
    if OBJECT_NUMBER not in table.columns:
        table[OBJECT_NUMBER] = table[LABEL]
    columns: dict[str, list[str]] = {}
    if "classical" in feature_sets:
        classical = measure_cells(image, segmentation.nuclei, segmentation.cells, CHANNELS)
        names = classical_feature_names(CHANNELS)
        # measure_cells is the reference for every classical column (areas included)
        table = table.drop(columns=[c for c in names if c in table.columns])
        table = table.merge(classical, on=LABEL, how="left", validate="one_to_one")
        columns["classical"] = names
    if "vit" in feature_sets:
        if encoder is None:
            raise ValueError("feature set 'vit' needs an encoder")
        embeddings = _embed(
            image,
            table,
            encoder,
            device,
            batch_size,
            pixel_size=pixel_size,
            normalization=normalization,
        )
        names = vit_feature_names(embeddings.shape[1])
        table = pd.concat([table, pd.DataFrame(embeddings, columns=names)], axis=1)
        columns["vit"] = names
    return table, columns


def _embed(
    image: np.ndarray,
    table: pd.DataFrame,
    encoder: Any,
    device: str,
    batch_size: int,
    pixel_size: float | None = None,
    normalization: Any = "field",
) -> np.ndarray:
    from napari_phenoscope.models import embed_crops

    if table.empty:
        return embed_crops(encoder, np.zeros((0, 5, 1, 1), np.float32), device=device)
    # crops as large as the encoder's input, so a model trained with --crop-size fits
    crop_size = int(encoder.patch_embed.img_size[0])
    preprocessing = getattr(encoder, "phenoscope_preprocessing", None)
    scale = crop_scale(pixel_size, getattr(preprocessing, "pixel_size_um", None))
    crops = extract_crops(image, table, size=crop_size, normalization=normalization, scale=scale)
    embeddings = embed_crops(encoder, crops, batch_size=batch_size, device=device)
    return np.asarray(embeddings, dtype=np.float32)


# --- the plate run -------------------------------------------------------------------------


def index_plates(
    plate_dirs: Iterable[str | Path],
    channel_map: str | None = None,
    wells: Sequence[str] | None = None,
    illum: str | Path | None = None,
) -> pd.DataFrame:
    """Index the fields of every plate folder (duplicates once), optionally some wells only.

    ``illum``, a folder of CellProfiler illumination functions, is attached to every field
    (``io.attach_illum_folder``), so fields are corrected on read.

    Raises
    ------
    PlateFormatError
        Naming the folder, if it holds no fields (or none of the chosen wells).
    """
    indexes = []
    for plate_dir in plate_dirs:
        fields = index_plate(plate_dir, channel_map)
        if fields.empty:
            raise PlateFormatError(f"no image fields found in {plate_dir}")
        fields = fields.copy()
        fields["_source"] = str(plate_dir)
        if wells is not None:
            fields = select_wells(fields, wells, Path(plate_dir))
        indexes.append(fields)
    if not indexes:
        raise PlateFormatError("no plate folder given")
    fields = pd.concat(indexes, ignore_index=True)
    fields[SITE] = fields[SITE].astype(int)
    fields = fields.drop_duplicates([PLATE, WELL, SITE], keep="first")
    if illum is not None:
        fields = attach_illum_folder(fields, illum)
    return fields.sort_values([PLATE, WELL, SITE], kind="stable").reset_index(drop=True)


def encoder_normalisation(
    encoder: Any, plate_fields: pd.DataFrame, missing: Literal["error", "zeros"] = "error"
) -> dict[str, Any]:
    """The crop normalisation of each plate that the encoder's preprocessing asks for.

    Parameters
    ----------
    encoder
        A loaded encoder (``models.load_encoder``), with its ``phenoscope_preprocessing``.
    plate_fields
        The WHOLE field index of the plates (not only the wells being profiled), so a
        well's crops are scaled the same whichever wells a run chooses.
    missing
        As for ``io.read_field``.

    Returns
    -------
    dict
        Plate barcode -> ``"field"`` or (5, 2) plate limits (``scaling.plate_limits``).
    """
    preprocessing = getattr(encoder, "phenoscope_preprocessing", None)
    plates = plate_fields[PLATE].astype(str).unique()
    if preprocessing is None or preprocessing.normalization == "field":
        return {plate: "field" for plate in plates}
    return limits_per_plate(plate_fields, preprocessing.percentiles, missing=missing)


def model_signature(model_path: str | Path | None) -> str:
    """Identify the encoder weights in the cache: SHA-256 of the file (bundled by default).

    Raises
    ------
    ModelWeightsError
        If ``model_path`` (or the bundled file) does not exist.
    """
    from napari_phenoscope.models.weights import resolve_weights, sha256_of

    path = resolve_weights(model_path)
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
    metadata: str | Path | None = None,
    negcon: str | None = None,
    illum: str | Path | None = None,
    pixel_size: float | None = None,
    labels: str | Path | None = None,
    missing_labels: Literal["error", "skip"] = "error",
    qc: str = "exclude",
    qc_thresholds: Sequence[str] = (),
) -> ProfileOutputs:
    """Profile plates into single-cell and well-level Parquet tables, resumably.

    Parameters
    ----------
    plate_dirs
        Anything ``io.index_plate`` opens: CPJUMP1 project or plate folders (their plate
        maps annotate the wells), Cell Painting Gallery folders, LoadData CSVs, OME-Zarr
        plates.
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
    metadata
        A well metadata table or JUMP metadata folder (``io.load_metadata``).
    negcon
        ``"COLUMN=VALUE"`` naming the negative-control wells (``io.apply_negcon``).
    illum
        A folder of CellProfiler illumination functions (``io.attach_illum_folder``).
    pixel_size
        Microns per pixel, overriding the images' metadata (``io.resolve_pixel_size``).
    labels
        Profile the cells of these label images instead of segmenting: a folder laid out as
        ``phenoscope segment --out`` writes it (``labels/<plate>/<well>_s<site>_cells.tiff``
        and, optionally, ``_nuclei.tiff``; ``segmentation.read_field_labels``).
    missing_labels
        With ``labels``, a field without a cell label image stops the run before anything
        is computed (``"error"``, naming the file) or is left out (``"skip"``).
    qc
        ``"exclude"`` (default): fields failing QC and flagged cells are left out of the
        well profiles; ``"flag"``: kept, with ``QC_pass`` / ``QC_reason`` in the single-cell
        table; ``"off"``: no QC. Either of the first two writes ``qc_fields.csv`` and
        ``qc_cells.parquet`` (``qc`` package, docs/qc.md).
    qc_thresholds
        ``MEASURE=Z`` overrides of the field tests (``qc.parse_thresholds``).
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
        A plate folder with no fields, an unreadable image or metadata table (named).
    LabelsError
        With ``labels``: a missing field (``missing_labels="error"``), or a label image
        that is not the field's shape (naming the file).
    QualityControlError
        An unknown ``qc`` mode or threshold measure, or QC failing every field.

    Warns
    -----
    PhenoscopeWarning
        When a plate has fewer than two negative-control wells (``wells.well_profiles``).
    """
    check_execution(scheduler, workers)
    check_qc_mode(qc)
    feature_sets = parse_feature_sets(features)
    fields = index_plates(plate_dirs, channel_map=channel_map, wells=wells, illum=illum)
    if labels is not None:
        fields = _fields_with_labels(fields, Path(labels), missing_labels)
    well_metadata = annotate_wells(fields, plate_dirs, metadata, negcon)
    image_pixel_size = resolve_pixel_size(fields, pixel_size)
    out_dir = output_folder(out_dir)
    caches = [out_dir / "fields", out_dir / "fields_qc"]
    for stale in [*out_dir.glob(".*.tmp"), *(p for c in caches for p in c.glob("*/.*.tmp"))]:
        stale.unlink(missing_ok=True)  # left by a run killed mid-write; never read
    signature: dict[str, Any] = {
        "feature_sets": list(feature_sets),
        "model": None,
        "input": _input_signature(fields, image_pixel_size, labels),
    }
    if "classical" in feature_sets:
        signature["classical"] = CLASSICAL_DEFINITIONS
    if "vit" in feature_sets:
        signature["model"] = model_signature(model_path)
    todo = [
        field.position
        for field in iter_fields(fields)
        if not cache_matches(field_cache_path(out_dir, *field.key), signature)
        or (labels is not None and _labels_newer(Path(labels), out_dir, field.key))
    ]
    in_process = scheduler is None and workers is None
    scaling: dict[str, Any] = {}
    if todo and "vit" in feature_sets:
        from napari_phenoscope.models import resolve_device  # torch: only for the ViT

        if in_process:
            device = str(resolve_device(device))  # Dask workers resolve "auto" themselves
        # the plates' crop normalisation comes from the encoder's preprocessing; computed
        # here once, shipped to the workers with the job
        encoder = cached_encoder(model_path, signature["model"], device if in_process else "cpu")
        whole = fields if wells is None else index_plates(plate_dirs, channel_map=channel_map)
        scaling = encoder_normalisation(encoder, whole, missing)
    job = FieldJob(
        out_dir,
        feature_sets,
        signature,
        model_path,
        device,
        batch_size,
        scaling,
        image_pixel_size,
        None if labels is None else Path(labels),
        qc=qc != "off",
    )
    map_fields(
        job,
        list(iter_fields(fields, todo, missing=missing)),
        scheduler=scheduler,
        workers=workers,
        progress=progress,
        describe=lambda field: "{} {} s{}".format(*field.key),
        total=len(fields),
    )
    cell_qc = None
    if qc != "off":
        # fields cached before QC existed: segmented again for their QC, features kept
        without_qc = fields_without_qc(fields, out_dir)
        if without_qc:
            map_fields(
                QCJob(out_dir, image_pixel_size, None if labels is None else Path(labels)),
                list(iter_fields(fields, without_qc, missing=missing)),
                scheduler=scheduler,
                workers=workers,
                progress=progress,
                desc="QC",
            )
        cell_qc = judge_run(fields, out_dir, qc_thresholds, exclude=qc == "exclude")
    return assemble_outputs(
        fields,
        well_metadata,
        feature_sets,
        out_dir,
        n_computed=len(todo),
        cell_qc=cell_qc,
        exclude=qc == "exclude",
    )


@dataclass(frozen=True)
class FieldJob:
    """Profile one field (``io.iter_fields``) into its cache file; what a Dask task runs.

    Small and picklable: a worker loads the encoder once per process (``cached_encoder``)
    and writes the field's cache file itself, atomically. Returns the number of cells.
    """

    out_dir: Path
    feature_sets: tuple[str, ...]
    signature: dict[str, Any]
    model_path: str | Path | None = None
    device: str = "auto"
    batch_size: int = 64
    scaling: dict[str, Any] = dataclass_field(default_factory=dict)
    pixel_size: float | None = None
    labels_dir: Path | None = None
    qc: bool = False  # also cache the field's QC measures (``profiling.quality``)

    def __call__(self, field: Field) -> int:
        device, encoder = self.device, None
        if "vit" in self.feature_sets:
            # imported here, not above: torch, timm and torchvision cost a Dask worker ~4
            # CPU-s to import, for nothing when the features are classical (docs/scale.md)
            from napari_phenoscope.models import resolve_device

            device = str(resolve_device(self.device))
            encoder = cached_encoder(self.model_path, self.signature["model"], device)
        image = field.read()
        if self.labels_dir is not None:
            segmentation = read_field_labels(self.labels_dir, *field.key, image.shape[1:])
        else:
            segmentation = segment_field(image, channels=CHANNELS, pixel_size=self.pixel_size)
        if self.qc:
            write_field_qc(self.out_dir, field.key, image, segmentation.nuclei, segmentation.cells)
        table, _ = measure_field(
            image,
            field.key,
            self.feature_sets,
            encoder,
            device,
            self.batch_size,
            segmentation=segmentation,
            pixel_size=self.pixel_size,
            normalization=self.scaling.get(field.key[0], "field"),
        )
        write_parquet_atomic(table, field_cache_path(self.out_dir, *field.key), self.signature)
        return len(table)


_ENCODER_LOCK = threading.Lock()


def cached_encoder(model_path: str | Path | None, digest: str, device: str) -> Any:
    """The encoder of ``model_path`` on ``device``, loaded once per process and kept.

    ``digest`` (the weights' SHA-256) is part of the key, so weights rewritten at the same
    path are reloaded. The lock makes a multi-threaded Dask worker load it only once.
    """
    with _ENCODER_LOCK:
        return _load_encoder(None if model_path is None else str(model_path), digest, device)


@functools.lru_cache(maxsize=2)
def _load_encoder(model_path: str | None, digest: str, device: str) -> Any:
    from napari_phenoscope.models import load_encoder

    del digest  # only a cache key
    return load_encoder(model_path, device=device)


def _input_signature(
    fields: pd.DataFrame, pixel_size: float | None, labels: str | Path | None = None
) -> dict[str, Any]:
    """What changes a field's pixels, cells or crops besides the model: illumination, scale,
    and where the cells came from (segmented here, or the given label folder)."""
    corrected = bool(len(fields)) and is_illum_corrected(fields.iloc[0].to_dict())
    signature: dict[str, Any] = {"illum": corrected, "pixel_size": pixel_size}
    if labels is not None:  # absent otherwise, so caches of segmenting runs stay valid
        signature["labels"] = str(Path(labels).resolve())
    return signature


def _fields_with_labels(
    fields: pd.DataFrame, labels_dir: Path, missing: Literal["error", "skip"]
) -> pd.DataFrame:
    """The fields that have cell labels in ``labels_dir`` (``missing="error"``: all must)."""
    if not labels_dir.is_dir():
        raise LabelsError(f"{labels_dir}: no such label folder")
    keys = [(str(p), str(w), int(s)) for p, w, s in fields[[PLATE, WELL, SITE]].itertuples(False)]
    present = fields_with_labels(keys, labels_dir, missing)
    if not any(present):
        raise LabelsError(f"{labels_dir}: no cell labels for any field of the plate(s)")
    return fields[present].reset_index(drop=True)


def _labels_newer(labels_dir: Path, out_dir: Path, key: tuple[str, str, int]) -> bool:
    """Whether a field's label images changed after its cache was written (edited masks)."""
    cache = field_cache_path(out_dir, *key)
    if not cache.is_file():
        return True
    written = cache.stat().st_mtime
    return any(p.is_file() and p.stat().st_mtime > written for p in label_paths(labels_dir, *key))

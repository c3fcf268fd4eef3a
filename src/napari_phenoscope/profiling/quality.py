"""QC inside a profiling run: cached per field beside the features, judged per plate.

``FieldJob`` writes each field's QC measures (``qc.field_quality`` of the segmentation it
profiles) to ``OUT/fields_qc/<plate>/<well>_s<site>.parquet`` (cell measures; the field's
measures in the file's metadata). A field cached before QC existed gets them from
``QCJob`` (read, segment, measure: no features), so a resumed run never recomputes
features for QC. ``judge_run`` then judges every field and cell, writes ``qc_fields.csv`` and
``qc_cells.parquet`` and returns the cells' flags that assembly joins (``--qc flag``) or
also leaves out of the well profiles (``--qc exclude``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from napari_phenoscope.constants import CHANNELS, LABEL, PLATE, SITE, WELL
from napari_phenoscope.errors import PhenoscopeWarning, QualityControlError
from napari_phenoscope.io.fields import Field, iter_fields
from napari_phenoscope.profiling.outputs import write_parquet_atomic
from napari_phenoscope.qc import (
    QC_MODES,
    QC_PASS,
    QC_REASON,
    check_something_passes,
    field_quality,
    judge_plates,
    write_qc_tables,
)
from napari_phenoscope.segmentation.field import segment_field
from napari_phenoscope.segmentation.given import read_field_labels

_FIELD_KEY = b"phenoscope"
QC_CACHE_DIR = "fields_qc"


def check_qc_mode(mode: str) -> str:
    """Validate ``--qc``: ``off``, ``flag`` or ``exclude``.

    Raises
    ------
    QualityControlError
        Naming the mode, if it is none of them.
    """
    if mode not in QC_MODES:
        raise QualityControlError(f"unknown --qc mode {mode!r}; choose from {', '.join(QC_MODES)}")
    return mode


def qc_cache_path(out_dir: str | Path, plate: str, well: str, site: int) -> Path:
    """``OUT/fields_qc/<plate>/<well>_s<site>.parquet``: one field's QC measures."""
    return Path(out_dir) / QC_CACHE_DIR / str(plate) / f"{well}_s{int(site)}.parquet"


def write_field_qc(
    out_dir: Path,
    key: tuple[str, str, int],
    image: np.ndarray,
    nuclei: np.ndarray,
    cells: np.ndarray,
) -> None:
    """Measure one segmented field's quality and cache it (atomically)."""
    row, cell_measures = field_quality(image, nuclei, cells, key, CHANNELS)
    metadata = {
        k: (v if not isinstance(v, float) or np.isfinite(v) else None) for k, v in row.items()
    }
    write_parquet_atomic(cell_measures, qc_cache_path(out_dir, *key), metadata)


@dataclass(frozen=True)
class QCJob:
    """QC of one field cached before QC existed: read, segment (or read the user's labels,
    ``phenoscope profile --labels``), measure (a Dask task)."""

    out_dir: Path
    pixel_size: float | None = None
    labels_dir: Path | None = None

    def __call__(self, field: Field) -> int:
        image = field.read()
        if self.labels_dir is not None:
            segmentation = read_field_labels(self.labels_dir, *field.key, image.shape[1:])
        else:
            segmentation = segment_field(image, channels=CHANNELS, pixel_size=self.pixel_size)
        write_field_qc(self.out_dir, field.key, image, segmentation.nuclei, segmentation.cells)
        return len(segmentation.table)


def fields_without_qc(fields: pd.DataFrame, out_dir: Path) -> list[int]:
    """Positions of the fields whose QC measures are not cached yet."""
    return [
        field.position
        for field in iter_fields(fields)
        if not qc_cache_path(out_dir, *field.key).is_file()
    ]


def read_field_qc(fields: pd.DataFrame, out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cached QC measures of the run's fields: one row per field, one row per cell."""
    rows: list[dict[str, Any]] = []
    cells: list[pd.DataFrame] = []
    for field in iter_fields(fields):
        path = qc_cache_path(out_dir, *field.key)
        stored = pq.read_schema(path).metadata or {}
        rows.append(
            {k: np.nan if v is None else v for k, v in json.loads(stored[_FIELD_KEY]).items()}
        )
        cells.append(pq.read_table(path).to_pandas())
    return pd.DataFrame(rows), pd.concat(cells, ignore_index=True)


def judge_run(
    fields: pd.DataFrame, out_dir: Path, thresholds: Sequence[str] = (), exclude: bool = True
) -> pd.DataFrame:
    """Judge every field and cell of a run, write the QC tables, return the cells' flags.

    Returns
    -------
    pandas.DataFrame
        Plate, well, site, ``label``, ``QC_pass``, ``QC_reason`` per cell.

    Raises
    ------
    QualityControlError
        A threshold naming an unknown measure, or (``exclude``) every field failing.

    Warns
    -----
    PhenoscopeWarning
        One line listing the wells left without a good field (no profile), and (``exclude``)
        one listing the wells whose fields passed but none of whose cells did.
    """
    field_measures, cell_measures = read_field_qc(fields, out_dir)
    judged_fields, judged_cells = judge_plates(field_measures, cell_measures, thresholds)
    write_qc_tables(out_dir, judged_fields, judged_cells)
    if exclude:
        where = ", ".join(dict.fromkeys(fields["_source"].astype(str)))
        check_something_passes(judged_fields, where)
    good = judged_fields.groupby([PLATE, WELL])[QC_PASS].any()
    if not good.all():
        wells = ", ".join(f"{p} {w}" for (p, w) in good[~good].index)
        fate = "left out of the well profiles" if exclude else "profiled anyway (--qc flag)"
        warnings.warn(
            f"{int((~good).sum())} well(s) without a field passing QC, {fate}: {wells} "
            "(qc_fields.csv says why)",
            PhenoscopeWarning,
            stacklevel=2,
        )
    cells_kept = judged_cells.groupby([PLATE, WELL])[QC_PASS].any()
    emptied = cells_kept[~cells_kept].index.difference(good[~good].index)
    if exclude and len(emptied):
        wells = ", ".join(f"{p} {w}" for (p, w) in emptied)
        warnings.warn(
            f"{len(emptied)} well(s) with good fields but no cell passing QC, left out of the "
            f"well profiles: {wells} (qc_cells.parquet says why; --qc flag keeps them)",
            PhenoscopeWarning,
            stacklevel=2,
        )
    return judged_cells[[PLATE, WELL, SITE, LABEL, QC_PASS, QC_REASON]]

"""QC of whole plates: measure each field and its cells, judge them, write the tables.

``field_quality`` measures one segmented field; ``judge_plates`` turns the measures of
every field into pass / fail decisions (fields against their plate, then cells against the
cells of their plate's passing fields); ``write_qc_tables`` writes ``qc_fields.csv`` and
``qc_cells.parquet``, what both ``phenoscope qc`` and ``phenoscope profile`` leave behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNELS, LABEL, PLATE, SITE, WELL
from napari_phenoscope.errors import QualityControlError
from napari_phenoscope.io.output_folder import atomic_path
from napari_phenoscope.qc.cells import flag_cells, measure_cell_quality
from napari_phenoscope.qc.field_flags import (
    QC_PASS,
    QC_REASON,
    FieldRule,
    default_field_rules,
    flag_fields,
    parse_thresholds,
    summarise_fields,
)
from napari_phenoscope.qc.measures import field_measure_names, measure_field_quality

QC_FIELDS_NAME = "qc_fields.csv"
QC_CELLS_NAME = "qc_cells.parquet"
QC_MODES: tuple[str, ...] = ("off", "flag", "exclude")
FIELD_FAILED = "field failed QC"


def field_quality(
    image: np.ndarray,
    nuclei: np.ndarray,
    cells: np.ndarray,
    key: tuple[str, str, int],
    channels: Sequence[str] = CHANNELS,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Measure one segmented field: its image-quality row and its cells' QC measures.

    Returns
    -------
    field_row : dict
        Plate, well, site and ``measure_field_quality``'s measures.
    cell_measures : pandas.DataFrame
        Plate, well, site and ``measure_cell_quality``'s columns, one row per cell.
    """
    plate, well, site = str(key[0]), str(key[1]), int(key[2])
    cell_measures = measure_cell_quality(image[list(channels).index("DNA")], nuclei, cells)
    measures = measure_field_quality(image, n_cells=len(cell_measures), channels=channels)
    cell_measures.insert(0, PLATE, plate)
    cell_measures.insert(1, WELL, well)
    cell_measures.insert(2, SITE, site)
    return {PLATE: plate, WELL: well, SITE: site, **measures}, cell_measures


def judge_plates(
    field_measures: pd.DataFrame,
    cell_measures: pd.DataFrame,
    thresholds: Sequence[str] = (),
    rules: Sequence[FieldRule] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pass or fail every field, then every cell.

    Parameters
    ----------
    field_measures
        One row per field (``field_quality``'s first result).
    cell_measures
        One row per cell (``field_quality``'s second result), all fields together.
    thresholds
        ``MEASURE=Z`` overrides of the field rules (``fields.parse_thresholds``).
    rules
        The field rules; ``default_field_rules()`` by default.

    Returns
    -------
    fields, cells : pandas.DataFrame
        Both with ``QC_pass`` and ``QC_reason``. Cells are judged against the cells of
        their plate's passing fields; every cell of a failed field fails as
        ``"field failed QC"``.

    Raises
    ------
    QualityControlError
        A threshold naming an unknown measure.
    """
    names = [c for c in field_measure_names() if c in field_measures.columns]
    rules = parse_thresholds(thresholds, default_field_rules() if rules is None else rules, names)
    fields = flag_fields(field_measures, [r for r in rules if r.measure in field_measures])
    fields[SITE] = fields[SITE].astype(int)
    keys = [PLATE, WELL, SITE]
    cells = cell_measures.merge(fields[[*keys, QC_PASS]], on=keys, how="left")
    in_good_field = cells.pop(QC_PASS).fillna(False).astype(bool)
    judged = flag_cells(cells[in_good_field.to_numpy()])
    failed = cells[~in_good_field.to_numpy()].assign(**{QC_REASON: FIELD_FAILED, QC_PASS: False})
    cells = pd.concat([judged, failed]).sort_index() if len(failed) else judged.sort_index()
    return fields, cells.reset_index(drop=True)


def check_something_passes(fields: pd.DataFrame, where: str) -> None:
    """Raise one line when QC fails every field (nothing would be profiled).

    Raises
    ------
    QualityControlError
        Naming ``where``, the failed tests and the way out.
    """
    if len(fields) and not fields[QC_PASS].any():
        summary = "; ".join(line.strip() for line in summarise_fields(fields)[1:])
        raise QualityControlError(
            f"QC failed every field of {where} ({summary}): look at qc_fields.csv, "
            "relax a test with --qc-threshold MEASURE=Z, or profile with --qc flag"
        )


def write_qc_tables(out_dir: str | Path, fields: pd.DataFrame, cells: pd.DataFrame) -> Path:
    """Write ``qc_fields.csv`` (one row per field) and ``qc_cells.parquet`` (one per cell).

    Returns the path of ``qc_fields.csv``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = [PLATE, WELL, SITE]
    leading = [*keys, QC_PASS, QC_REASON]
    fields = fields[[*keys, *[c for c in fields.columns if c not in leading], QC_PASS, QC_REASON]]
    path = out_dir / QC_FIELDS_NAME
    with atomic_path(path) as temporary:  # a run killed mid-write leaves no half table
        fields.to_csv(temporary, index=False)
    cell_columns = [*keys, LABEL, QC_PASS, QC_REASON]
    cells = cells[[*cell_columns, *[c for c in cells.columns if c not in cell_columns]]]
    with atomic_path(out_dir / QC_CELLS_NAME) as temporary:
        cells.to_parquet(temporary, index=False)
    return path

"""A plate's QC in the viewer session: run it, keep it, say it for one field or one well.

``run_session_qc`` measures every field of the open plate (``qc.run``) and judges it
(``qc.judge_plates``); ``attach_qc`` keeps the two tables in ``session.extras``, where
``PlateSession.wells_of`` counts each well's failed fields (the navigator colours wells by
it), ``describe_field_qc`` says one field's verdict and measures, and ``flagged_labels``
gives the flagged cells of a field (marked over the labels). A session opened from a
pipeline output whose single-cell table has ``QC_pass`` / ``QC_reason`` flags its cells from
that table.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd

from napari_phenoscope.constants import LABEL, PLATE, SITE, WELL
from napari_phenoscope.io.fields import iter_fields
from napari_phenoscope.qc import FIELD_FAILED, QC_PASS, QC_REASON, judge_plates
from napari_phenoscope.qc.run import measure_one_field
from napari_phenoscope.session.state import QC_FIELDS_KEY, PlateSession

QC_CELLS_KEY = "qc_cells"
#: The measures shown beside a field's verdict (per channel: the worst channel's value).
SHOWN_MEASURES = (
    ("focus (PowerLogLogSlope, lowest channel)", "ImageQuality_PowerLogLogSlope_", "min"),
    ("saturated pixels (PercentMaximal, highest)", "ImageQuality_PercentMaximal_", "max"),
    ("cells", "Count_Cells", "sum"),
)


def run_session_qc(
    session: PlateSession, cancel: threading.Event | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """QC of every field of the session's plates: (judged fields, judged cells).

    Fields are read and segmented one at a time (as the pipeline does); ``cancel`` stops
    between fields, and a cancelled run returns two empty tables (the dock drops them).
    """
    rows, cells = [], []
    for field in iter_fields(session.fields):
        if cancel is not None and cancel.is_set():
            break
        row, cell_measures = measure_one_field(field, session.extras.get("pixel_size"))
        rows.append(row)
        cells.append(cell_measures)
    if cancel is not None and cancel.is_set():
        return pd.DataFrame(), pd.DataFrame()
    return judge_plates(pd.DataFrame(rows), pd.concat(cells, ignore_index=True))


def attach_qc(session: PlateSession, fields: pd.DataFrame, cells: pd.DataFrame | None) -> None:
    """Keep a plate's judged QC tables in the session (``qc_fields.csv`` / ``qc_cells``)."""
    fields = fields.copy()
    fields[SITE] = fields[SITE].astype(int)
    session.extras[QC_FIELDS_KEY] = fields
    session.extras[QC_CELLS_KEY] = cells


def _field_row(session: PlateSession, key: tuple[str, str, int]) -> pd.Series | None:
    fields = session.extras.get(QC_FIELDS_KEY)
    if fields is None:
        return None
    plate, well, site = key
    rows = fields[(fields[PLATE] == plate) & (fields[WELL] == well) & (fields[SITE] == int(site))]
    return rows.iloc[0] if len(rows) else None


def failed_sites(session: PlateSession, plate: str, well: str) -> dict[int, str]:
    """The sites of a well that failed QC, each with its ``QC_reason``; empty before QC ran.

    The navigator marks these in its site list, so a failed field shows before it is opened.
    """
    fields = session.extras.get(QC_FIELDS_KEY)
    if fields is None:
        return {}
    rows = fields[(fields[PLATE] == plate) & (fields[WELL] == well) & ~fields[QC_PASS].astype(bool)]
    return {
        int(site): str(reason) for site, reason in zip(rows[SITE], rows[QC_REASON], strict=True)
    }


def describe_field_qc(session: PlateSession, key: tuple[str, str, int]) -> str:
    """One field's QC as HTML for the navigator: verdict, reason, measures vs plate median."""
    row = _field_row(session, key)
    if row is None:
        return ""
    fields = session.extras[QC_FIELDS_KEY]
    plate = fields[fields[PLATE] == key[0]]
    verdict = (
        "<b style='color:#6c6'>QC: pass</b>"
        if bool(row[QC_PASS])
        else f"<b style='color:#f66'>QC: failed</b> — {row[QC_REASON]}"
    )
    lines = []
    for label, prefix, how in SHOWN_MEASURES:
        columns = [c for c in fields.columns if c.startswith(prefix)]
        if not columns:
            continue
        value = getattr(row[columns].astype(float), how)()
        median = float(getattr(plate[columns].astype(float), how)(axis=1).median())
        lines.append(f"<tr><td>{label}</td><td>{value:.3g}</td><td>(plate {median:.3g})</td></tr>")
    return f"<p>{verdict}</p><table>{''.join(lines)}</table>"


def flagged_labels(session: PlateSession, key: tuple[str, str, int]) -> dict[int, str]:
    """Label id -> reason of the field's cells flagged by the cell tests (empty without QC).

    The cells of a field that failed QC are not listed one by one: the field's verdict
    says it (``describe_field_qc``), and outlining every cell would hide the field.
    """
    plate, well, site = key
    for table in (session.cells, session.extras.get(QC_CELLS_KEY)):
        if table is None or QC_PASS not in table.columns:
            continue
        rows = table[
            (table[PLATE] == plate)
            & (table[WELL] == well)
            & (table[SITE] == int(site))
            & ~table[QC_PASS].astype(bool)
            & (table[QC_REASON] != FIELD_FAILED)
        ]
        return {
            int(label): str(reason)
            for label, reason in zip(rows[LABEL], rows[QC_REASON], strict=True)
        }
    return {}


def flagged_label_image(cells: np.ndarray, flagged: dict[int, Any]) -> np.ndarray:
    """The cell label image with only the flagged cells left (others 0)."""
    if not flagged:
        return np.zeros_like(cells)
    return np.where(np.isin(cells, list(flagged)), cells, 0)

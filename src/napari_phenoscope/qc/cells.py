"""Single-cell outliers, coSMicQC-style: robust z-scores of a few measures per plate.

Segmentation errors and dying cells are far from their plate's cells in a handful of
measures: a merged or fragmented nucleus in nucleus area, a cell that swallowed its
neighbours in cell area, a pyknotic (dying) nucleus in DNA intensity, a cell with several
nuclei, and a cell cut by the field's edge (whose shape and totals are partial). Each
cell gets ``QC_pass`` and a ``QC_reason`` naming the tests it failed, in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CELL_AREA, LABEL, NUCLEUS_AREA, PLATE
from napari_phenoscope.qc.field_flags import QC_PASS, QC_REASON, robust_z
from napari_phenoscope.segmentation.metrics import TOUCHES_BORDER, labels_on_border

NUCLEUS_DNA = "Nuclei_Intensity_MeanIntensity_DNA"
NUCLEI_PER_CELL = "Cells_Children_Nuclei_Count"
CELL_MEASURES: tuple[str, ...] = (
    CELL_AREA,
    NUCLEUS_AREA,
    NUCLEUS_DNA,
    NUCLEI_PER_CELL,
    TOUCHES_BORDER,
)


@dataclass(frozen=True)
class CellRule:
    """A two-sided robust z test on one cell measure (log-scaled when ``log``)."""

    measure: str
    low: str  # reason when below -z, e.g. "small nucleus"
    high: str  # reason when above z
    z: float = 4.0
    log: bool = True
    floor: float = 0.1  # least scale: 10% (in log units) however alike a plate's cells are


DEFAULT_CELL_RULES: tuple[CellRule, ...] = (
    CellRule(CELL_AREA, "small cell", "large cell"),
    CellRule(NUCLEUS_AREA, "small nucleus", "large nucleus"),
    # wide: mitotic arrest (condensed, bright DNA) is a phenotype, not an artefact
    CellRule(NUCLEUS_DNA, "dim nucleus", "bright nucleus", z=6.0),
)


def measure_cell_quality(dna: np.ndarray, nuclei: np.ndarray, cells: np.ndarray) -> pd.DataFrame:
    """The QC measures of every cell of a field.

    Parameters
    ----------
    dna
        (Y, X) DNA plane of the field.
    nuclei, cells
        Label images (``segment_field``): cell ``k`` holds nucleus ``k``.

    Returns
    -------
    pandas.DataFrame
        One row per cell label: ``label``, cell and nucleus areas (pixels), the nucleus's
        mean DNA intensity, how many nuclei (labels of ``nuclei``) lie in the cell, and
        whether the cell touches the field's edge.

    Examples
    --------
    >>> nuclei = np.zeros((8, 8), int); nuclei[1:3, 1:3] = 1
    >>> cells = np.zeros((8, 8), int); cells[0:4, 0:4] = 1
    >>> measure_cell_quality(np.ones((8, 8)), nuclei, cells)[["label", "touches_border"]]
       label  touches_border
    0      1            True
    """
    nuclei = np.asarray(nuclei)
    cells = np.asarray(cells)
    ids = np.unique(cells)
    ids = ids[ids != 0].astype(np.int64)
    size = int(max(nuclei.max(initial=0), cells.max(initial=0))) + 1
    nucleus_area = np.bincount(nuclei.ravel(), minlength=size)
    cell_area = np.bincount(cells.ravel(), minlength=size)
    dna_sum = np.bincount(
        nuclei.ravel(), weights=np.asarray(dna, np.float64).ravel(), minlength=size
    )
    inside = (cells > 0) & (nuclei > 0)
    # distinct (cell, nucleus) pairs as one integer each: a 1-D unique, not a 2-D one
    pairs = np.unique(cells[inside].astype(np.int64) * size + nuclei[inside])
    per_cell = np.bincount(pairs // size, minlength=size)
    edge = labels_on_border(cells)
    return pd.DataFrame(
        {
            LABEL: ids,
            CELL_AREA: cell_area[ids],
            NUCLEUS_AREA: nucleus_area[ids],
            NUCLEUS_DNA: dna_sum[ids] / np.maximum(nucleus_area[ids], 1),
            NUCLEI_PER_CELL: per_cell[ids],
            TOUCHES_BORDER: np.isin(ids, edge),
        }
    )


def flag_cells(
    cells: pd.DataFrame,
    rules: Sequence[CellRule] = DEFAULT_CELL_RULES,
    edge: bool = True,
    max_nuclei: int = 1,
) -> pd.DataFrame:
    """Flag each plate's outlier cells.

    Parameters
    ----------
    cells
        One row per cell with ``Metadata_Plate`` and the ``CELL_MEASURES``.
    rules
        Two-sided robust z tests, computed over each plate's cells.
    edge
        Flag cells cut by the field's edge.
    max_nuclei
        Flag cells holding more nuclei than this.

    Returns
    -------
    pandas.DataFrame
        ``cells`` with ``QC_pass`` and ``QC_reason`` (``"large nucleus, bright nucleus"``).
    """
    reasons = pd.Series([[] for _ in range(len(cells))], index=cells.index, dtype=object)
    if cells.empty:
        return cells.assign(**{QC_REASON: pd.Series(dtype=str), QC_PASS: pd.Series(dtype=bool)})
    for _, plate in cells.groupby(PLATE, sort=False):
        for rule in rules:
            values = plate[rule.measure].astype(float)
            if rule.log:
                values = np.log(values.clip(lower=1e-9))
            z = robust_z(values, floor=rule.floor)
            for index in plate.index[(z < -rule.z).to_numpy()]:
                reasons[index].append(rule.low)
            for index in plate.index[(z > rule.z).to_numpy()]:
                reasons[index].append(rule.high)
    if max_nuclei:
        for index in cells.index[(cells[NUCLEI_PER_CELL] > max_nuclei).to_numpy()]:
            reasons[index].append(f"{int(cells.at[index, NUCLEI_PER_CELL])} nuclei")
    if edge:
        for index in cells.index[cells[TOUCHES_BORDER].astype(bool).to_numpy()]:
            reasons[index].append("cut by the field edge")
    flagged = cells.copy()
    flagged[QC_REASON] = [", ".join(r) for r in reasons]
    flagged[QC_PASS] = flagged[QC_REASON] == ""
    return flagged

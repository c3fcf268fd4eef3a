"""Measuring a segmentation: its per-cell table and its agreement with ground truth.

``cell_table`` gives one row per cell keyed by ``label`` (napari's ``layer.features``
key); ``match_labels`` counts objects matched to true objects by intersection over union.
Both are pure functions of label images; ``segment`` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from napari_phenoscope.constants import (
    CELL_AREA,
    CENTER_X,
    CENTER_Y,
    LABEL,
    NUCLEUS_AREA,
    OBJECT_NUMBER,
    PLATE,
    SITE,
    WELL,
)

TOUCHES_BORDER = "touches_border"
BBOX_MIN_X = "Cells_AreaShape_BoundingBoxMinimum_X"
BBOX_MIN_Y = "Cells_AreaShape_BoundingBoxMinimum_Y"
BBOX_MAX_X = "Cells_AreaShape_BoundingBoxMaximum_X"  # exclusive, as in CellProfiler
BBOX_MAX_Y = "Cells_AreaShape_BoundingBoxMaximum_Y"

_TABLE_DTYPES: dict[str, str] = {
    LABEL: "int32",
    OBJECT_NUMBER: "int32",
    CENTER_X: "float64",
    CENTER_Y: "float64",
    BBOX_MIN_X: "int32",
    BBOX_MIN_Y: "int32",
    BBOX_MAX_X: "int32",
    BBOX_MAX_Y: "int32",
    NUCLEUS_AREA: "int64",
    CELL_AREA: "int64",
    TOUCHES_BORDER: "bool",
}


@dataclass(frozen=True)
class MatchResult:
    """Object-level agreement of a predicted and a true label image (``match_labels``)."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        total = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / total if total else 1.0


def labels_on_border(labels: np.ndarray) -> np.ndarray:
    """The label ids (0 included if present) that touch the image's edge.

    >>> labels_on_border(np.array([[1, 0, 0], [0, 2, 0], [0, 0, 3]]))
    array([0, 1, 3])
    """
    labels = np.asarray(labels)
    return np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))


def cell_table(
    nuclei: np.ndarray,
    cells: np.ndarray,
    plate: str | None = None,
    well: str | None = None,
    site: int | None = None,
) -> pd.DataFrame:
    """One row per cell: label, object number, nucleus centroid, cell bounding box, areas.

    Parameters
    ----------
    nuclei, cells
        Label images where cell ``k`` contains nucleus ``k`` (``segment_field``).
    plate, well, site
        Metadata columns (``Metadata_Plate`` ...) added in front for each one given.

    Returns
    -------
    pandas.DataFrame
        Columns: the given metadata, ``label`` (the id in both label images, napari's
        ``layer.features`` key), ``Metadata_ObjectNumber`` (= label),
        ``Location_Center_X`` / ``_Y`` (nucleus centroid, pixels), the cell's
        ``Cells_AreaShape_BoundingBoxMinimum_X`` / ``_Y`` and ``...Maximum_X`` / ``_Y``
        (exclusive, as in CellProfiler), ``Nuclei_AreaShape_Area``,
        ``Cells_AreaShape_Area`` and ``touches_border`` (the cell touches the field edge;
        profiling may drop those). Empty fields give no rows but the same columns.
    """
    nuclei = np.asarray(nuclei)
    cells = np.asarray(cells)
    ids = np.unique(nuclei)
    ids = ids[ids != 0].astype(np.int64)
    n_labels = int(max(nuclei.max(initial=0), cells.max(initial=0))) + 1
    nucleus_area = np.bincount(nuclei.ravel(), minlength=n_labels)
    cell_area = np.bincount(cells.ravel(), minlength=n_labels)
    ys, xs = np.nonzero(nuclei)
    owner = nuclei[ys, xs]
    area = np.maximum(nucleus_area, 1)
    center_y = np.bincount(owner, weights=ys, minlength=n_labels) / area
    center_x = np.bincount(owner, weights=xs, minlength=n_labels) / area
    boxes = ndi.find_objects(cells, max_label=n_labels - 1)
    bbox = np.array(
        [
            (b[1].start, b[0].start, b[1].stop, b[0].stop) if b is not None else (0, 0, 0, 0)
            for b in (boxes[i - 1] for i in ids)
        ],
        dtype=np.int64,
    ).reshape(-1, 4)
    edge = labels_on_border(cells)
    columns = {
        LABEL: ids,
        OBJECT_NUMBER: ids,
        CENTER_X: center_x[ids],
        CENTER_Y: center_y[ids],
        BBOX_MIN_X: bbox[:, 0],
        BBOX_MIN_Y: bbox[:, 1],
        BBOX_MAX_X: bbox[:, 2],
        BBOX_MAX_Y: bbox[:, 3],
        NUCLEUS_AREA: nucleus_area[ids],
        CELL_AREA: cell_area[ids],
        TOUCHES_BORDER: np.isin(ids, edge),
    }
    table = pd.DataFrame(columns).astype(_TABLE_DTYPES)
    metadata = {PLATE: plate, WELL: well, SITE: site}
    for position, (column, value) in enumerate(
        (c, v) for c, v in metadata.items() if v is not None
    ):
        dtype = "int64" if column == SITE else "object"
        table.insert(position, column, pd.Series([value] * len(table), dtype=dtype))
    return table


def match_labels(pred: np.ndarray, truth: np.ndarray, iou: float = 0.5) -> MatchResult:
    """Match predicted to true objects by intersection over union.

    With ``iou >= 0.5`` an object overlaps at most one partner that well, so the matching
    is unique without an assignment step.

    Parameters
    ----------
    pred, truth
        Label images of the same shape (0 background).
    iou
        Minimum intersection over union of a true positive pair (>= 0.5).

    Returns
    -------
    MatchResult
        True positives, false positives (unmatched predictions) and false negatives.

    Examples
    --------
    >>> truth = np.zeros((8, 8), int); truth[1:5, 1:5] = 1
    >>> match_labels(truth, truth).f1
    1.0
    """
    if pred.shape != truth.shape:
        raise ValueError(f"label images differ in shape: {pred.shape} vs {truth.shape}")
    if iou < 0.5:
        raise ValueError("match_labels needs iou >= 0.5 for a unique matching")
    pred_ids, pred_flat = np.unique(pred, return_inverse=True)
    truth_ids, truth_flat = np.unique(truth, return_inverse=True)
    n_pred, n_truth = len(pred_ids), len(truth_ids)
    pairs = np.bincount(
        pred_flat.ravel() * n_truth + truth_flat.ravel(), minlength=n_pred * n_truth
    ).reshape(n_pred, n_truth)
    pred_fg = pred_ids != 0
    truth_fg = truth_ids != 0
    inter = pairs[np.ix_(pred_fg, truth_fg)].astype(np.float64)
    union = pairs[pred_fg].sum(1)[:, None] + pairs[:, truth_fg].sum(0)[None, :] - inter
    tp = int(np.count_nonzero(inter / np.maximum(union, 1) > iou - 1e-12))
    return MatchResult(tp=tp, fp=int(pred_fg.sum()) - tp, fn=int(truth_fg.sum()) - tp)

"""The Retrieval dock's per-query table: short headers, modality colours, marked queries.

The rows of the Similar dock's query and of its target genes are highlighted in amber, as
in the Similar dock's ranking; modalities wear the colours they have everywhere else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor, QFont

import napari_phenoscope.evaluation.precision as metrics
from napari_phenoscope._widgets._frame_model import DataFrameModel
from napari_phenoscope.constants import BROAD_SAMPLE, GENE, MODALITY, PERT_INAME
from napari_phenoscope.evaluation.tasks import MATCHED_LABEL
from napari_phenoscope.io.plate_layout import category_colour

#: Short headers of the per-query columns (others lose their ``Metadata_`` prefix).
QUERY_HEADERS = {
    PERT_INAME: "perturbation",
    MATCHED_LABEL: "target",
    metrics.AP: "AP",
    metrics.P_VALUE: "p",
    metrics.CORRECTED_P: "q",
    metrics.BELOW_CORRECTED_P: "retrieved",
    metrics.MAP: "mAP",
    BROAD_SAMPLE: "broad_sample",
}
QUERY_BACKGROUND = QColor(255, 214, 102)  # the Similar query and its targets, as there


class QueryModel(DataFrameModel):
    """Per-query rows: modality colours; the Similar dock's query and targets highlighted."""

    def __init__(self) -> None:
        super().__init__()
        self.highlighted = np.zeros(0, bool)
        self._modality_colour: list[QColor | None] = []
        self._bold = QFont()
        self._bold.setBold(True)

    def show(self, frame: pd.DataFrame, names: set[str]) -> None:
        """Show ``frame``, highlighting rows whose perturbation or gene is in ``names``."""
        hit = np.zeros(len(frame), bool)
        for column in (PERT_INAME, GENE, MATCHED_LABEL):
            if column in frame:
                hit |= frame[column].astype(str).isin(names).to_numpy()
        self.highlighted = hit
        self._modality_colour = (
            [QColor.fromRgbF(*category_colour(str(m))) for m in frame[MODALITY]]
            if MODALITY in frame
            else [None] * len(frame)
        )
        headers = [QUERY_HEADERS.get(c, c.removeprefix("Metadata_")) for c in frame.columns]
        self.set_frame(frame, headers)

    def style(self, row: int, column: str, role: int):
        if role == Qt.ItemDataRole.BackgroundRole:
            if column == MODALITY:
                return self._modality_colour[row]
            return QUERY_BACKGROUND if self.highlighted[row] else None
        if self.highlighted[row] and column != MODALITY:
            if role == Qt.ItemDataRole.ForegroundRole:
                return QColor("black")
            if role == Qt.ItemDataRole.FontRole:
                return self._bold
        return None

"""The ranking table of the Similar perturbations dock: model, similarity bars, thumbnails.

Qt only: ``RankingModel`` shows the columns a ranking has (a table without modalities or
MoA shows none, rather than empty ones), colours rows by modality and highlights the
query's own target genes (amber) and perturbations sharing its target or MoA (pale
amber); ``SimilarityBarDelegate`` paints a similarity as its number beside a bar;
``rgb_pixmap`` shows a thumbnail.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from qtpy.QtCore import QRectF, Qt
from qtpy.QtGui import QColor, QFont, QImage, QPixmap
from qtpy.QtWidgets import QStyledItemDelegate

from napari_phenoscope._widgets._frame_model import DataFrameModel
from napari_phenoscope.constants import MODALITY, RANK, SIMILARITY
from napari_phenoscope.io.plate_layout import category_colour
from napari_phenoscope.similarity.rank import (
    BEST_PLATE,
    BEST_WELL,
    IDENTIFIER,
    IS_TARGET,
    MOA,
    PERTURBATION,
    SAME_MOA,
    SAME_TARGET,
    TARGET,
)

#: Every column the table can show, in order, and its header.
TABLE_COLUMNS = (RANK, PERTURBATION, IDENTIFIER, MODALITY, SIMILARITY, TARGET, MOA)
HEADERS = {
    RANK: "#",
    PERTURBATION: "perturbation",
    IDENTIFIER: "id",
    MODALITY: "modality",
    SIMILARITY: "similarity",
    TARGET: "targets",
    MOA: "MoA",
}
HEADER_TIPS = {
    IDENTIFIER: "the sample's identifier: tells two guides or ORFs of one gene apart",
    TARGET: "a compound's target genes, or the gene a CRISPR guide or ORF perturbs",
    SIMILARITY: "cosine similarity of the perturbation's consensus profile to the query",
}
TARGET_BACKGROUND = QColor(255, 214, 102)  # the query's own targets: amber, as a highlighter
RELATED_BACKGROUND = QColor(255, 240, 196)  # same target or MoA: the same hue, paler
THUMBNAIL_PX = 72
_BAR_PX = 44  # the bar's share of the similarity cell, right of the number


class ElideLeftDelegate(QStyledItemDelegate):
    """Elides text on the left: ``…0001144995`` keeps the end that tells ids apart."""

    def initStyleOption(self, option, index) -> None:  # noqa: N802 (Qt API)
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideLeft


class SimilarityBarDelegate(QStyledItemDelegate):
    """Paints a similarity in -1..1 as its number, then a bar from the middle of the space
    right of it (never under the number, which must stay readable)."""

    def paint(self, painter, option, index) -> None:
        value = index.data(Qt.ItemDataRole.UserRole)
        if value is None:
            super().paint(painter, option, index)
            return
        rect = option.rect
        background = index.data(Qt.ItemDataRole.BackgroundRole)
        if background is not None:
            painter.fillRect(rect, background)
        text_rect = rect.adjusted(4, 0, -_BAR_PX - 4, 0)
        half = _BAR_PX / 2
        middle = rect.right() - 2 - half
        bar = QRectF(middle, rect.top() + 5, float(value) * half, rect.height() - 10)
        painter.fillRect(bar.normalized(), QColor("#3b7dd8" if value >= 0 else "#d8643b"))
        foreground = index.data(Qt.ItemDataRole.ForegroundRole)
        painter.save()
        # the model gives a QColor for highlighted rows; others use the theme's text colour
        painter.setPen(
            QColor(foreground) if foreground is not None else option.palette.text().color()
        )
        align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(text_rect, align, f"{value:+.2f}")
        painter.restore()

    def sizeHint(self, option, index):  # noqa: N802 (Qt API)
        hint = super().sizeHint(option, index)
        hint.setWidth(option.fontMetrics.horizontalAdvance("+0.00") + _BAR_PX + 14)
        return hint


def rgb_pixmap(rgb: np.ndarray, size: int = THUMBNAIL_PX) -> QPixmap:
    """A QPixmap of a (Y, X, 3) RGB image (uint8, or float in [0, 1]), scaled to ``size``."""
    if rgb.dtype != np.uint8:
        rgb = (np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)
    rgb = np.ascontiguousarray(rgb)
    height, width, _ = rgb.shape
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


class RankingModel(DataFrameModel):
    """The ranked perturbations: modality colours, the query's target genes highlighted."""

    def __init__(self) -> None:
        super().__init__(columns=TABLE_COLUMNS, headers=[HEADERS[c] for c in TABLE_COLUMNS])
        self._bold = QFont()
        self._bold.setBold(True)
        self._black = QColor("black")
        self._is_target = np.zeros(0, bool)
        self._is_related = np.zeros(0, bool)
        self._modality_colour: list[QColor] = []
        self._tooltips: list[str] = []

    def set_frame(self, frame: pd.DataFrame) -> None:
        """Show a ranking; its columns, colours and tool tips are computed here, once."""
        empty = frame.empty or IS_TARGET not in frame.columns
        shown = [c for c in TABLE_COLUMNS if c in frame.columns] if not empty else []
        self._columns = shown or list(TABLE_COLUMNS)
        self._headers = [HEADERS[c] for c in self._columns]
        self._is_target = np.zeros(0, bool) if empty else frame[IS_TARGET].to_numpy(bool)
        related = [frame[c].to_numpy(bool) for c in (SAME_TARGET, SAME_MOA) if c in frame]
        self._is_related = (
            np.logical_or.reduce(related) if related and not empty else np.zeros(len(frame), bool)
        )
        self._modality_colour = (
            [QColor.fromRgbF(*category_colour(str(m))) for m in frame[MODALITY]]
            if not empty and MODALITY in frame
            else []
        )
        self._tooltips = (
            []
            if empty
            else [
                f"best well {plate} {well}: click to open"
                for plate, well in zip(frame[BEST_PLATE], frame[BEST_WELL], strict=True)
            ]
        )
        super().set_frame(frame)

    def style(self, row: int, column: str, role: int) -> Any:
        is_target = bool(self._is_target[row])
        highlighted = is_target or bool(self._is_related[row])
        if role == Qt.ItemDataRole.BackgroundRole:
            if column == MODALITY:
                return self._modality_colour[row]
            if is_target:
                return TARGET_BACKGROUND
            return RELATED_BACKGROUND if highlighted else None
        if role == Qt.ItemDataRole.ForegroundRole and highlighted and column != MODALITY:
            return self._black
        if role == Qt.ItemDataRole.FontRole and is_target:
            return self._bold
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltips[row]
        return None

    def headerData(self, section, orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return HEADER_TIPS.get(self.column_names()[section])
        return super().headerData(section, orientation, role)

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and self.column_names()[index.column()] == SIMILARITY
        ):
            return ""  # the bar delegate paints the number
        return super().data(index, role)

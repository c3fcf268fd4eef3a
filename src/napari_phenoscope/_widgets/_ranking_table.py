"""The ranking table of the Similar perturbations dock: model, similarity bars, thumbnails.

Qt only: ``RankingModel`` colours rows by modality and highlights the query's own target
genes, ``SimilarityBarDelegate`` paints a similarity as a bar, ``rgb_pixmap`` shows a
thumbnail.
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
from napari_phenoscope.io.plate_layout import category_color
from napari_phenoscope.profiling.similarity import BEST_PLATE, BEST_WELL, PERTURBATION, TARGET

TABLE_COLUMNS = (RANK, PERTURBATION, MODALITY, TARGET, SIMILARITY)
HEADERS = ("rank", "perturbation", "modality", "target / gene", "similarity")
TARGET_BACKGROUND = QColor(255, 214, 102)  # the query's own targets: amber, as a highlighter
THUMBNAIL_PX = 72


class SimilarityBarDelegate(QStyledItemDelegate):
    """Paints a similarity in -1..1 as a bar from the cell's centre, with the number on top."""

    def paint(self, painter, option, index) -> None:
        value = index.data(Qt.ItemDataRole.UserRole)
        if value is None:
            super().paint(painter, option, index)
            return
        rect = option.rect
        background = index.data(Qt.ItemDataRole.BackgroundRole)
        if background is not None:
            painter.fillRect(rect, background)
        middle = rect.left() + rect.width() / 2
        bar = QRectF(middle, rect.top() + 3, float(value) * rect.width() / 2, rect.height() - 6)
        painter.fillRect(bar.normalized(), QColor("#3b7dd8" if value >= 0 else "#d8643b"))
        foreground = index.data(Qt.ItemDataRole.ForegroundRole)
        painter.save()
        # the model gives a QColor for highlighted rows; others use the theme's text colour
        painter.setPen(
            QColor(foreground) if foreground is not None else option.palette.text().color()
        )
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{value:+.2f}")
        painter.restore()


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
        super().__init__(columns=TABLE_COLUMNS, headers=HEADERS)
        self._bold = QFont()
        self._bold.setBold(True)
        self._black = QColor("black")
        self._is_target = np.zeros(0, bool)
        self._modality_colour: list[QColor] = []
        self._tooltips: list[str] = []

    def set_frame(self, frame: pd.DataFrame) -> None:
        """Show a ranking; its colours and tool tips are computed here, once."""
        empty = frame.empty or "is target" not in frame.columns
        self._is_target = np.zeros(0, bool) if empty else frame["is target"].to_numpy(bool)
        self._modality_colour = (
            [] if empty else [QColor.fromRgbF(*category_color(str(m))) for m in frame[MODALITY]]
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
        if role == Qt.ItemDataRole.BackgroundRole:
            if column == MODALITY:
                return self._modality_colour[row]
            return TARGET_BACKGROUND if is_target else None
        if role == Qt.ItemDataRole.ForegroundRole and is_target and column != MODALITY:
            return self._black
        if role == Qt.ItemDataRole.FontRole and is_target:
            return self._bold
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltips[row]
        return None

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and TABLE_COLUMNS[index.column()] == SIMILARITY:
            return ""  # the bar delegate paints the number
        return super().data(index, role)

"""Row and column names of the plate grid, legible at every plate size.

A 1536-well plate drawn in the left column has wells 5 px wide: no section can hold "AF"
or "48", and Qt clips a header's text to its section. ``SparseHeader`` names only some
sections and draws each name centred over its section and over its neighbours; which
sections are named is ``io.plate_layout.plate_row_labels`` / ``plate_column_labels``.
"""

from __future__ import annotations

from qtpy.QtCore import QRect, Qt
from qtpy.QtGui import QPainter
from qtpy.QtWidgets import QHeaderView


class SparseHeader(QHeaderView):
    """A header that names the sections in ``names`` (index -> text), unclipped."""

    def __init__(self, orientation: Qt.Orientation, parent=None) -> None:
        super().__init__(orientation, parent)
        self.names: dict[int, str] = {}

    def set_names(self, names: dict[int, str]) -> None:
        """Name these sections (0-based) and leave the others blank."""
        self.names = dict(names)
        if self.orientation() == Qt.Orientation.Vertical:
            widest = max(
                (self.fontMetrics().horizontalAdvance(n) for n in names.values()), default=0
            )
            self.setMinimumWidth(widest + 6)
        self.viewport().update()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)  # the sections, blank
        painter = QPainter(self.viewport())
        painter.setFont(self.font())
        painter.setPen(self.palette().color(self.foregroundRole()))
        metrics = painter.fontMetrics()
        horizontal = self.orientation() == Qt.Orientation.Horizontal
        for index, name in self.names.items():
            centre = self.sectionViewportPosition(index) + self.sectionSize(index) // 2
            # centred on its section, but kept inside the header (A at the top, 48 at the end)
            if horizontal:
                width = metrics.horizontalAdvance(name) + 2
                left = min(max(centre - width // 2, 0), self.viewport().width() - width)
                rect = QRect(left, 0, width, self.height())
            else:
                height = metrics.height()
                top = min(max(centre - height // 2, 0), self.viewport().height() - height)
                rect = QRect(0, top, self.width(), height)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, name)
        painter.end()

"""A read-only Qt table model over a pandas DataFrame (the docks' ranked and per-query tables).

A model paints only the rows on screen, so a table of a thousand perturbations fills in
constant time, unlike one ``QTableWidgetItem`` per cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from qtpy.QtCore import QAbstractTableModel, QModelIndex, Qt

SORT_ROLE = Qt.ItemDataRole.UserRole
STYLE_ROLES = frozenset(
    {
        Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.FontRole,
        Qt.ItemDataRole.ToolTipRole,
    }
)


class DataFrameModel(QAbstractTableModel):
    """Rows of a DataFrame; ``columns`` chooses and orders them, ``headers`` names them.

    ``SORT_ROLE`` (UserRole) gives numbers as floats so that a ``QSortFilterProxyModel``
    sorts them numerically. Subclasses add colours and fonts through :meth:`style`.
    """

    def __init__(
        self,
        frame: pd.DataFrame | None = None,
        columns: Sequence[str] | None = None,
        headers: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self._columns = list(columns) if columns is not None else None
        self._headers = list(headers) if headers is not None else None
        self.frame = pd.DataFrame()
        self._values: np.ndarray = np.empty((0, 0), dtype=object)
        if frame is not None:
            self.set_frame(frame)

    def set_frame(self, frame: pd.DataFrame, headers: Sequence[str] | None = None) -> None:
        """Replace the table shown (and, if given, the headers of its columns)."""
        self.beginResetModel()
        if headers is not None:
            self._headers = list(headers)
        self.frame = frame.reset_index(drop=True)
        self._values = self.frame.reindex(columns=self.column_names()).to_numpy(dtype=object)
        self.endResetModel()

    def column_names(self) -> list[str]:
        """The frame columns shown, in order."""
        return self._columns if self._columns is not None else list(self.frame.columns)

    def rowCount(self, parent: QModelIndex | None = None) -> int:  # noqa: N802 (Qt API)
        return 0 if parent is not None and parent.isValid() else len(self.frame)

    def columnCount(self, parent: QModelIndex | None = None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(self.column_names())

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = self._values[index.row(), index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            if isinstance(value, float | np.floating):
                return f"{value:.3g}"
            return str(value)
        if role == SORT_ROLE:
            if isinstance(value, bool | np.bool_):
                return int(value)
            return float(value) if isinstance(value, int | float | np.number) else str(value)
        if role in STYLE_ROLES:  # Qt asks for a dozen roles per painted cell
            return self.style(index.row(), self.column_names()[index.column()], role)
        return None

    def style(self, row: int, column: str, role: int) -> Any:
        """Background / foreground / font / tool tip of a cell (none by default).

        Called for every painted cell: read precomputed arrays here, not the DataFrame.
        """
        return None

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            if self._headers is not None:
                return self._headers[section]
            return str(self.column_names()[section]).removeprefix("Metadata_")
        return str(section + 1)

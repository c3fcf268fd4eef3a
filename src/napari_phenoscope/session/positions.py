"""Where things are in a session: a field's (plate, well, site) key, the centers of its cells.

The docks place layers and rings with these (the Profile map rings selected cells of an
unsegmented field, the Inspect dock centers its window on the selected cell); no Qt here.
"""

from __future__ import annotations

import numpy as np

from napari_phenoscope.constants import CENTER_X, CENTER_Y, LABEL, PLATE, SITE, WELL
from napari_phenoscope.session.state import PlateSession

FieldKey = tuple[str, str, int]
CellKey = tuple[str, str, int, int]


def field_key(session: PlateSession, index: int | None = None) -> FieldKey:
    """(plate, well, site) of field ``index`` of the session (default: the field on show).

    Examples
    --------
    >>> plate, well, site = field_key(session)  # doctest: +SKIP
    """
    row = session.field_row(index)
    return str(row[PLATE]), str(row[WELL]), int(row[SITE])


def cell_centers_in_field(session: PlateSession, key: FieldKey, labels: list[int]) -> np.ndarray:
    """(y, x) centers of cells ``labels`` of field ``key``, from the session's cell table.

    Parameters
    ----------
    session
        The session whose single-cell table (``session.cells``) holds the cells.
    key
        The field, as (plate, well, site).
    labels
        Label ids of cells in that field.

    Returns
    -------
    numpy.ndarray
        One (y, x) row per cell found, in the table's order; (0, 2) when the session has no
        cell table or the table no center columns.
    """
    cells = session.cells
    if cells is None or CENTER_X not in cells.columns or CENTER_Y not in cells.columns:
        return np.zeros((0, 2))
    plate, well, site = key
    in_field = (
        (cells[PLATE].to_numpy() == plate)
        & (cells[WELL].to_numpy() == well)
        & (cells[SITE].to_numpy() == site)
        & np.isin(cells[LABEL].to_numpy(), labels)
    )
    return cells.loc[in_field, [CENTER_Y, CENTER_X]].to_numpy(dtype=float)


def cell_center(session: PlateSession, cell: CellKey) -> tuple[float, float] | None:
    """(y, x) center of one cell, keyed (plate, well, site, label); None if not in the table."""
    plate, well, site, label = cell
    centers = cell_centers_in_field(session, (plate, well, site), [label])
    if not len(centers):
        return None
    return float(centers[0, 0]), float(centers[0, 1])


#: What the scale bar reads when a plate's pixel size is unknown: the field's own pixels.
PIXEL_UNITS = "pixel"
MICRONS = "um"


def field_scale(session: PlateSession) -> tuple[tuple[float, float], str]:
    """(scale, units) of the session's field layers: um per pixel where known, else pixels.

    The pixel size is the plate's (``session.extras["pixel_size"]``: ``--pixel-size`` or
    the images' metadata, ``io.resolve_pixel_size``); without one the layers stay at
    scale 1 and their units are pixels, so that the scale bar says "px", not um.
    """
    pixel_size = session.extras.get("pixel_size")
    if pixel_size:
        return (float(pixel_size), float(pixel_size)), MICRONS
    return (1.0, 1.0), PIXEL_UNITS

"""Where things are in a session, headless: a field's key and the centers of its cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CENTER_X, CENTER_Y, LABEL, PLATE, SITE, WELL
from napari_phenoscope.session.positions import (
    MICRONS,
    PIXEL_UNITS,
    cell_center,
    cell_centers_in_field,
    field_key,
    field_scale,
)
from napari_phenoscope.session.state import PlateSession


def two_field_session() -> PlateSession:
    fields = pd.DataFrame({PLATE: ["P1", "P1"], WELL: ["A01", "B02"], SITE: [1, 3]})
    cells = pd.DataFrame(
        {
            PLATE: ["P1", "P1", "P1", "P1"],
            WELL: ["A01", "A01", "B02", "A01"],
            SITE: [1, 1, 3, 2],
            LABEL: [4, 9, 4, 4],
            CENTER_Y: [10.0, 20.0, 30.0, 40.0],
            CENTER_X: [11.0, 21.0, 31.0, 41.0],
        }
    )
    return PlateSession(source=Path("."), fields=fields, cells=cells, current=1)


def test_field_key_is_the_field_on_show_or_the_one_asked():
    session = two_field_session()
    assert field_key(session) == ("P1", "B02", 3)
    assert field_key(session, 0) == ("P1", "A01", 1)
    assert isinstance(field_key(session)[2], int)


def test_cell_centers_are_those_of_the_field_and_labels_asked():
    session = two_field_session()
    centers = cell_centers_in_field(session, ("P1", "A01", 1), [4, 9, 77])
    np.testing.assert_array_equal(centers, [[10.0, 11.0], [20.0, 21.0]])
    # label 4 is in three fields: only that of the field asked
    np.testing.assert_array_equal(cell_centers_in_field(session, ("P1", "B02", 3), [4]), [[30, 31]])


def test_no_cell_table_or_no_center_columns_means_no_centers():
    session = two_field_session()
    assert cell_centers_in_field(session, ("P1", "A01", 1), [4]).shape == (1, 2)
    session.cells = session.cells.drop(columns=[CENTER_X])
    assert cell_centers_in_field(session, ("P1", "A01", 1), [4]).shape == (0, 2)
    session.cells = None
    assert cell_centers_in_field(session, ("P1", "A01", 1), [4]).shape == (0, 2)


def test_cell_center_of_one_cell_or_none():
    session = two_field_session()
    assert cell_center(session, ("P1", "A01", 2, 4)) == (40.0, 41.0)
    assert cell_center(session, ("P1", "A01", 2, 5)) is None
    session.cells = None
    assert cell_center(session, ("P1", "A01", 2, 4)) is None


def test_field_scale_is_the_plates_pixel_size_in_um_or_the_fields_pixels():
    session = two_field_session()
    assert field_scale(session) == ((1.0, 1.0), PIXEL_UNITS)
    session.extras["pixel_size"] = 0.598
    assert field_scale(session) == ((0.598, 0.598), MICRONS)

"""Well names from 96- to 1536-well plates: Phenix rows r01..r32 <-> A..P, Q..Z, AA..AF."""

from __future__ import annotations

import pytest

from napari_phenoscope.constants import MAX_COLUMNS, ROW_LETTERS, well_name, well_row_col


def test_rows_beyond_z_are_named_as_harmony_and_spreadsheets_name_them():
    assert len(ROW_LETTERS) == 32  # a 1536-well plate: 32 x 48
    assert "".join(ROW_LETTERS[:26]) == "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert ROW_LETTERS[26:] == ("AA", "AB", "AC", "AD", "AE", "AF")
    assert MAX_COLUMNS == 48


@pytest.mark.parametrize(
    ("row", "column", "name"),
    [
        (1, 1, "A01"),
        (16, 24, "P24"),
        (17, 1, "Q01"),
        (26, 9, "Z09"),
        (27, 1, "AA01"),
        (32, 48, "AF48"),
    ],
)
def test_well_names_round_trip_over_a_1536_well_plate(row, column, name):
    assert well_name(row, column) == name
    assert well_row_col(name) == (row, column)
    assert well_row_col(name.lower()) == (row, column)


def test_every_well_of_a_1536_well_plate_has_its_own_name():
    names = {well_name(r, c) for r in range(1, 33) for c in range(1, 49)}
    assert len(names) == 1536
    assert {well_row_col(n) for n in names} == {(r, c) for r in range(1, 33) for c in range(1, 49)}


@pytest.mark.parametrize("bad", ["AG01", "A49", "A00", "AAA1", "1A", "", "A", "B 7"])
def test_names_outside_a_1536_well_plate_are_refused(bad):
    with pytest.raises(ValueError, match="A01..AF48"):
        well_row_col(bad)


@pytest.mark.parametrize(("row", "column"), [(0, 1), (33, 1), (1, 0), (1, 49)])
def test_positions_outside_a_1536_well_plate_are_refused(row, column):
    with pytest.raises(ValueError, match="outside"):
        well_name(row, column)

"""The plate grid's row and column names, legible at every plate size (io/plate_layout.py)."""

from __future__ import annotations

from napari_phenoscope.io.plate_layout import plate_column_labels, plate_row_labels


def test_small_plates_name_every_row_and_1536_well_plates_every_fourth():
    assert plate_row_labels(8) == dict(enumerate("ABCDEFGH"))
    assert list(plate_row_labels(16).values()) == list("ABCDEFGHIJKLMNOP")
    rows_1536 = plate_row_labels(32)
    assert sorted(rows_1536) == list(range(0, 32, 4))
    assert [rows_1536[r] for r in (0, 24, 28)] == ["A", "Y", "AC"]


def test_columns_are_numbered_so_that_the_numbers_do_not_run_together():
    assert plate_column_labels(12) == {c: str(c + 1) for c in range(12)}
    assert plate_column_labels(24) == {c: str(c + 1) for c in range(0, 24, 2)}
    assert plate_column_labels(48) == {0: "1", **{c - 1: str(c) for c in range(6, 49, 6)}}

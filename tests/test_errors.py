"""Errors the user can fix read as one line; anything else says what kind of error it was."""

from __future__ import annotations

from napari_phenoscope.errors import PhenoscopeError, ProfileTableError, one_line


def test_a_phenoscope_error_is_its_first_line():
    error = ProfileTableError("table.csv has no column Metadata_Well\n  (columns: a, b)")
    assert one_line(error) == "table.csv has no column Metadata_Well"


def test_other_errors_carry_their_type_name():
    assert one_line(ValueError("  bad value \nsecond line")) == "ValueError: bad value"
    assert one_line(KeyError()) == "KeyError"
    assert one_line(PhenoscopeError("")) == ""

"""What the Compare dock computes, headless: the pickers' text as a comparison, and its run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_rank import FEATURES, synthetic_cells, synthetic_well_profiles

from napari_phenoscope.constants import PERT_INAME, PLATE, SITE, WELL
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.session.comparison_request import (
    AUTOMATIC,
    NO_CONTRAST,
    query_maker,
    run_comparison,
    versus_spec,
)
from napari_phenoscope.session.state import PlateSession
from napari_phenoscope.similarity.comparison import compare
from napari_phenoscope.similarity.rank import (
    cell_normaliser,
    cell_query,
    find_cell,
    well_query,
)


@pytest.fixture(scope="module")
def session() -> PlateSession:
    cells = synthetic_cells(cells_per_well=4)
    session = PlateSession(source=Path("."), fields=pd.DataFrame({PLATE: [], WELL: [], SITE: []}))
    session.cells = cells
    session.well_profiles["classical"] = synthetic_well_profiles(cells)
    return session


def test_the_contrast_picker_reads_as_compares_versus():
    assert versus_spec(AUTOMATIC) is None and versus_spec("  ") is None
    assert versus_spec(NO_CONTRAST) == ""
    assert versus_spec(" BRD4 · crispr ") == "BRD4 · crispr"


def test_a_perturbation_query_is_its_name_and_a_well_query_makes_the_well(session):
    assert query_maker(session, "perturbation", "BI-2536 · compound") == "BI-2536 · compound"
    profiles = session.well_profiles["classical"]
    first = profiles.iloc[0]
    made = query_maker(session, "well", f"{first[PLATE]} {first[WELL]}")(profiles, FEATURES)
    expected = well_query(profiles, first[PLATE], first[WELL], FEATURES)
    np.testing.assert_allclose(made.vector, expected.vector)
    assert made.exclude_wells == expected.exclude_wells


def test_a_cell_query_is_the_first_selected_cell_normalized_to_its_plate(session):
    cell = session.cells[session.cells[PERT_INAME] == "BI-2536"].iloc[0]
    key = (cell[PLATE], cell[WELL], int(cell[SITE]), int(cell["label"]))
    session.selected = [key, ("P-ORF", "A01", 1, 1)]
    try:
        made = query_maker(session, "selected cell", "")(session.well_profiles, FEATURES)
    finally:
        session.selected = []
    normalizer = cell_normaliser(session.cells, FEATURES, cell[PLATE])
    expected = cell_query(find_cell(session.cells, key), FEATURES, normalizer)
    np.testing.assert_allclose(made.vector, expected.vector)


def test_a_cell_query_without_a_cell_says_why(session):
    with pytest.raises(ProfileTableError, match="No cell selected"):
        query_maker(session, "selected cell", "")
    bare = PlateSession(source=Path("."), fields=session.fields, selected=[("P", "A01", 1, 1)])
    with pytest.raises(ProfileTableError, match="No single-cell profiles yet"):
        query_maker(bare, "selected cell", "")


def test_run_comparison_is_compare_on_the_sessions_tables(session):
    got = run_comparison(session, "BI-2536", "crispr:PLK1", None, False, None)
    expected = compare(
        session.well_profiles, "BI-2536", "crispr:PLK1", cells=session.cells, fields=session.fields
    )
    pd.testing.assert_frame_equal(got.summary(), expected.summary())
    assert set(got.summary()["side"]) == {"match", "contrast"}

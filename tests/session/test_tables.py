"""Profile tables as session feature sets: with and without images, wells and cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _real_tables import BACKEND, real_single_cells
from napari_phenoscope.constants import CENTER_X, LABEL, PLATE, SITE, WELL
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io import index_plate
from napari_phenoscope.io.profile_tables import load_profile_table, profile_table
from napari_phenoscope.session.state import PlateSession
from napari_phenoscope.session.tables import (
    add_profile_table,
    feature_set_name,
    session_without_images,
)


@pytest.fixture(scope="module")
def real_cells(real_profiles):
    cells = real_single_cells(real_profiles)
    cells["Metadata_pert"] = np.where(cells[WELL] == "A02", "DMSO", "drug")
    return profile_table(cells, "cells.csv.gz")


def test_single_cell_table_becomes_cells_and_well_medians(real_cells):
    session = session_without_images(real_cells, "cells.csv.gz")
    name = add_profile_table(session, real_cells)
    assert name == "cells"
    wells = session.well_profiles[name]
    assert list(zip(wells[PLATE], wells[WELL], strict=True)) == [
        ("BR00116991", "A01"),
        ("BR00121431", "A01"),
        ("BR00121431", "A02"),
    ]
    # median per well, as pycytominer.aggregate(operation="median")
    frame = real_cells.frame()
    expected = frame.groupby([PLATE, WELL])[real_cells.feature_names].median()
    np.testing.assert_allclose(wells[real_cells.feature_names].to_numpy(), expected.to_numpy())
    # a metadata column constant in each well is kept; per-cell ones are not
    assert list(wells["Metadata_pert"]) == ["drug", "drug", "DMSO"]
    assert "Metadata_ObjectNumber" not in wells.columns
    cells = session.cells
    assert len(cells) == 234 and session.feature_columns[name] == real_cells.feature_names
    assert cells[LABEL].tolist() == real_cells.metadata["Metadata_ObjectNumber"].tolist()
    assert cells[SITE].dtype == np.int64
    assert session.cell_counts[("BR00121431", "A02")] == 36


def test_well_table_without_images(real_profiles, tmp_path):
    table = load_profile_table(real_profiles / BACKEND)
    session = session_without_images(table, real_profiles / BACKEND)
    name = add_profile_table(session, table)
    assert name == "BR00121431_backend_main"
    assert session.cells is None
    assert len(session.well_profiles[name]) == 2
    assert session.well_metadata[WELL].tolist() == ["A01", "A02"]
    # a second table of the same wells is a second feature set, named apart
    assert add_profile_table(session, table) == "BR00121431_backend_main-2"
    with pytest.raises(ProfileTableError, match="already has a feature set"):
        add_profile_table(session, table, name="BR00121431_backend_main")


def test_tables_join_an_open_plate_by_barcode_and_well(tiny_plate):
    session = PlateSession(source=tiny_plate, fields=index_plate(tiny_plate))
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {PLATE: "BR00116991", WELL: ["A01", "A02", "B03"], "f1": rng.normal(size=3)}
    )
    frame["f2"] = rng.normal(size=3)
    name = add_profile_table(session, profile_table(frame, "mine.parquet"))
    assert len(session.well_profiles[name]) == 3
    other = frame.assign(**{PLATE: "BR00117010"})
    with pytest.raises(ProfileTableError, match="not the open plate"):
        add_profile_table(session, profile_table(other, "theirs.csv"))


def test_cells_next_to_ours_keep_both_feature_sets(real_cells):
    session = session_without_images(real_cells, "cells.csv.gz")
    add_profile_table(session, real_cells, name="cellprofiler")
    again = add_profile_table(session, real_cells, name="again")
    columns = session.feature_columns[again]
    assert all(c.startswith("again:") for c in columns)
    assert len(session.cells) == 2 * 234
    assert session.cells[columns].notna().sum().min() == 234
    # the well profiles of the set name the same columns (docks join cells and wells by name)
    wells = session.well_profiles[again]
    assert [c for c in wells.columns if not c.startswith("Metadata_")] == columns


def test_integer_barcodes_and_centroids(real_cells):
    frame = real_cells.frame().head(20)
    frame[PLATE] = 24277  # cpg0004 plates are numbers
    frame["Nuclei_Location_Center_X"] = np.arange(20.0)
    frame["Nuclei_Location_Center_Y"] = np.arange(20.0) * 2
    table = profile_table(frame, "x.csv")
    session = session_without_images(table, "x.csv")
    add_profile_table(session, table)
    assert set(session.cells[PLATE]) == {"24277"}
    assert session.cells[CENTER_X].tolist() == list(np.arange(20.0))


def test_tables_without_plate_and_well_are_refused_by_the_docks():
    frame = pd.DataFrame({"Metadata_broad_sample": ["a", "b", "c"], "f": [1.0, 2.0, 3.0]})
    table = profile_table(frame, "consensus.csv")
    with pytest.raises(ProfileTableError, match="no Metadata_Plate column"):
        session_without_images(table, "consensus.csv")


def test_feature_set_names():
    assert feature_set_name("a/b/BR1_normalized.csv.gz", set()) == "BR1_normalized"
    assert feature_set_name("x.parquet", {"x", "x-2"}) == "x-3"

"""Which columns of a table name perturbations' identifiers, targets and MoA."""

from __future__ import annotations

import pandas as pd
import pytest

from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.annotations import find_annotations, row_values, split_values


def test_jump_and_lincs_columns_are_found_and_empty_ones_skipped():
    jump = pd.DataFrame(
        {
            "Metadata_broad_sample": ["BRD-K1", "ccsbBroad304_1"],
            "Metadata_target_list": ["PLK1|BRD4", ""],
            "Metadata_gene": ["", "PLK1"],
            "Metadata_moa": ["", ""],  # present but empty: not a column to show
        }
    )
    found = find_annotations(jump)
    assert found.identifier == "Metadata_broad_sample"
    assert found.targets == ("Metadata_target_list", "Metadata_gene")
    assert found.moa is None
    lincs = pd.DataFrame({"Metadata_moa": ["PLK inhibitor"], "Metadata_target": ["PLK1"]})
    found = find_annotations(lincs)
    assert (found.targets, found.moa) == (("Metadata_target",), "Metadata_moa")
    assert found.colour_column(lincs.columns) == "Metadata_moa"


def test_chosen_columns_win_and_a_missing_one_is_named():
    table = pd.DataFrame({"Metadata_mechanism": ["x"], "Metadata_moa": ["y"]})
    assert find_annotations(table, moa="Metadata_mechanism").moa == "Metadata_mechanism"
    with pytest.raises(ProfileTableError, match="Metadata_nope"):
        find_annotations(table, target="Metadata_nope")


def test_values_split_on_any_separator_without_repeats_or_blanks():
    assert split_values("PLK1|PLK2, PLK1; nan") == ("PLK1", "PLK2")
    assert split_values(float("nan")) == ()
    row = {"Metadata_target_list": "BRD4|PLK1", "Metadata_gene": "PLK1"}
    assert row_values(row, ["Metadata_target_list", "Metadata_gene"]) == ("BRD4", "PLK1")

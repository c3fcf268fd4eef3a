"""One reader of a pipeline output folder: cells, their feature sets and the well profiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_phenoscope.constants import CENTER_X, CENTER_Y, LABEL, PLATE, SITE, WELL
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.profiling.outputs import VIT_PREFIX, PipelineOutput, read_pipeline_output

CLASSICAL = ["Cells_AreaShape_Area", "Cells_AreaShape_Perimeter"]  # names the pipeline writes
VIT = [f"{VIT_PREFIX}{i}" for i in range(3)]


def write_output(folder, cells=True, wells=("vit", "classical")):
    """An output folder as ``profile_plates`` leaves it: single cells and well profiles."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(6, 5)), columns=[*VIT, *CLASSICAL])
    table.insert(0, PLATE, "P1")
    table.insert(1, WELL, ["A01", "A01", "A01", "B02", "B02", "B02"])
    table.insert(2, SITE, 1)
    table[LABEL] = np.arange(1, 7)
    table[CENTER_X], table[CENTER_Y] = 10.0, 20.0
    table["QC_reason"] = ""
    table["Cells_Unprofiled_Extra"] = 1.0  # measured, not in any well profile
    if cells:
        table.to_parquet(folder / "single_cells.parquet")
    for name in wells:
        columns = VIT if name == "vit" else CLASSICAL
        medians = table.groupby([PLATE, WELL], as_index=False)[columns].median()
        medians.to_parquet(folder / f"well_profiles_{name}.parquet")
    return table


def test_reads_all_cells_their_feature_sets_and_every_well_table(tmp_path):
    written = write_output(tmp_path / "out")
    output = read_pipeline_output(tmp_path / "out")
    assert isinstance(output, PipelineOutput)
    cells, feature_columns, well_profiles = output  # the tuple the Profile dock unpacks
    pd.testing.assert_frame_equal(cells, written)
    assert feature_columns == {"vit": VIT, "classical": CLASSICAL}
    assert sorted(well_profiles) == ["classical", "vit"]
    assert list(well_profiles["vit"].columns) == [PLATE, WELL, *VIT]


def test_profiled_cell_columns_are_those_the_well_profiles_need(tmp_path):
    write_output(tmp_path / "out", wells=("vit",))
    output = read_pipeline_output(tmp_path / "out", cell_columns="profiled")
    assert list(output.cells.columns) == [PLATE, WELL, SITE, *VIT, LABEL, CENTER_X, CENTER_Y]
    assert output.feature_columns == {"vit": VIT}


def test_cells_are_needed_unless_the_well_profiles_are_asked_for(tmp_path):
    write_output(tmp_path / "out", cells=False)
    with pytest.raises(ProfileTableError, match="no single_cells.parquet in .*out"):
        read_pipeline_output(tmp_path / "out")
    output = read_pipeline_output(tmp_path / "out", need="well_profiles")
    assert output.cells is None and output.feature_columns == {}
    assert sorted(output.well_profiles) == ["classical", "vit"]


def test_well_profiles_are_needed_when_asked_for(tmp_path):
    write_output(tmp_path / "out", wells=())
    with pytest.raises(ProfileTableError, match="no well_profiles_<features>.parquet"):
        read_pipeline_output(tmp_path / "out", need="well_profiles")
    assert read_pipeline_output(tmp_path / "out").well_profiles == {}


def test_one_well_profile_table_is_its_own_feature_set(tmp_path):
    write_output(tmp_path / "out", cells=False, wells=("vit",))
    output = read_pipeline_output(tmp_path / "out" / "well_profiles_vit.parquet", "well_profiles")
    assert output.cells is None and list(output.well_profiles) == ["vit"]
    assert len(output.well_profiles["vit"]) == 2

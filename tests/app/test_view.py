"""``phenoscope view``: napari with the docks on profile tables (run under xvfb-run)."""

from __future__ import annotations

import pytest
from test_similarity import synthetic_cells, synthetic_well_profiles, write_synthetic_project

from napari_phenoscope._widgets._viewer import field_key
from napari_phenoscope.app.view import open_profiles_viewer
from napari_phenoscope.cli import main
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.session.state import state_of


@pytest.mark.gui
def test_view_opens_the_plate_and_every_table(make_napari_viewer, tmp_path):
    cells = synthetic_cells(cells_per_well=4)
    root = write_synthetic_project(tmp_path / "project", cells)
    wells = synthetic_well_profiles(cells)
    wells.to_csv(tmp_path / "a.csv", index=False)
    wells.to_parquet(tmp_path / "b.parquet", index=False)
    viewer = make_napari_viewer()
    docks = open_profiles_viewer(
        [tmp_path / "a.csv", tmp_path / "b.parquet"], root, names=["cellprofiler"], viewer=viewer
    )
    session = state_of(viewer).session
    assert session.has_images and field_key(session)[0] == "P-COMPOUND"
    assert list(session.well_profiles) == ["cellprofiler", "b"]
    assert docks.profile.status.text() == "Feature sets: cellprofiler, b."
    combo = docks.map.feature_combo
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "cellprofiler",
        "b",
        "all feature sets",
    ]


def test_view_refuses_a_bad_table_before_any_window(tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("Metadata_Well,Metadata_Plate\nA01,P1\n")
    with pytest.raises(ProfileTableError, match="no feature columns"):
        open_profiles_viewer([tmp_path / "bad.csv"])
    assert main(["view", str(tmp_path / "bad.csv")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_view_without_a_display_says_so(tmp_path, capsys, monkeypatch):
    wells = synthetic_well_profiles(synthetic_cells(cells_per_well=2))
    wells.to_csv(tmp_path / "wells.csv", index=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["view", str(tmp_path / "wells.csv")]) == 2
    captured = capsys.readouterr()
    assert "well-level profiles" in captured.out
    assert captured.err.startswith("phenoscope view: error: no display")

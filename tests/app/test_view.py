"""``phenoscope view``: napari with the docks on profile tables (run under xvfb-run)."""

from __future__ import annotations

import pytest
from test_rank import synthetic_cells, synthetic_well_profiles, write_synthetic_project

from napari_phenoscope.app.view import open_profiles_viewer
from napari_phenoscope.cli import main
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.session.positions import field_key
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
    combo = docks.retrieval.feature_combo
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


def lincs_like_table(path, seed: int = 0):
    """A small LINCS-like well-level table (``*_normalized_feature_select.csv.gz``): Broad
    ids, ``Metadata_moa`` and ``Metadata_target``, no modality, no ``pert_iname``; two PLK
    inhibitors share a phenotype, a BET inhibitor has another."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    design = [  # broad id, MoA, target, phenotype
        ("BRD-K00000001-001-01-1", "PLK inhibitor", "PLK1|PLK2|PLK3", 0),
        ("BRD-K00000002-001-01-1", "PLK inhibitor", "PLK1", 0),
        ("BRD-K00000003-001-01-1", "bromodomain inhibitor", "BRD4", 1),
        ("BRD-K00000004-001-01-1", "tubulin inhibitor", "TUBB", 2),
        ("DMSO", "", "", 3),
    ]
    phenotypes = rng.normal(size=(4, 12)) * 3
    phenotypes[3] = 0
    rows = []
    for i, (broad_id, moa, target, phenotype) in enumerate(design):
        for replicate in range(4):
            well = f"{'ABCDEFGH'[replicate]}{i + 1:02d}"
            values = phenotypes[phenotype] + rng.normal(size=12) * 0.3
            rows.append(
                {
                    "Metadata_Plate": "SQ00014812",
                    "Metadata_Well": well,
                    "Metadata_broad_sample": broad_id,
                    "Metadata_moa": moa,
                    "Metadata_target": target,
                    "Metadata_dose_recode": 6,
                    **{f"Cells_Intensity_Feature_{k}": v for k, v in enumerate(values)},
                }
            )
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.gui
def test_a_well_level_table_opens_on_wells_by_perturbation_in_its_own_words(
    make_napari_viewer, tmp_path
):
    from napari_phenoscope.similarity.rank import IDENTIFIER, MOA, SAME_MOA, TARGET

    table = lincs_like_table(tmp_path / "SQ00014812_normalized_feature_select.csv.gz")
    viewer = make_napari_viewer()
    docks = open_profiles_viewer([table], viewer=viewer, lay_out=False)
    profile_map, similar = docks.profile_map, docks.similar
    assert profile_map.level_combo.currentData() == "wells"
    assert profile_map.colour_combo.currentText() == "Metadata_moa"  # the telling annotation
    assert similar.mode_combo.currentText() == "perturbation"
    combo = similar.perturbation_combo
    items = [combo.itemText(i) for i in range(combo.count())]
    assert "BRD-K00000001-001-01-1" in items and not any("·" in item for item in items)
    assert similar.find("perturbation", "BRD-K00000001-001-01-1"), similar.status.text()
    columns = similar.table.model().column_names()
    assert TARGET in columns and MOA in columns
    assert "Metadata_modality" not in columns and IDENTIFIER not in columns  # none empty
    top = similar.ranking.iloc[0]
    assert top[MOA] == "PLK inhibitor" and bool(top[SAME_MOA])  # the other PLK inhibitor
    assert "same MoA" in similar.query_label.text()
    assert similar.ranking[TARGET].str.len().gt(0).any()


@pytest.mark.gui
def test_annotation_columns_chosen_on_the_command_line(make_napari_viewer, tmp_path):
    import pandas as pd

    path = lincs_like_table(tmp_path / "profiles.csv")
    table = pd.read_csv(path).rename(columns={"Metadata_moa": "Metadata_mechanism"})
    table.to_csv(path, index=False)
    with pytest.raises(ProfileTableError, match="Metadata_nope"):
        open_profiles_viewer([path], annotation_columns={"moa": "Metadata_nope"})
    viewer = make_napari_viewer()
    docks = open_profiles_viewer(
        [path], viewer=viewer, lay_out=False, annotation_columns={"moa": "Metadata_mechanism"}
    )
    assert docks.profile_map.colour_combo.currentText() == "Metadata_mechanism"
    assert docks.similar.find("perturbation", "BRD-K00000001-001-01-1")
    assert docks.similar.ranking.iloc[0]["MoA"] == "PLK inhibitor"

"""``phenoscope qc`` and ``phenoscope profile --qc``: tables, summaries, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from qc_plate import write_qc_plate

import napari_phenoscope.qc.plate as plate_module
from cli_outcome import run_cli
from napari_phenoscope.constants import LABEL, PLATE, SITE, WELL
from napari_phenoscope.qc import QC_PASS, QC_REASON


@pytest.fixture
def qc_plate(tmp_path: Path) -> Path:
    return write_qc_plate(tmp_path)


def test_qc_writes_field_and_cell_tables_and_a_summary(qc_plate, tmp_path, capsys):
    outcome = run_cli(["qc", qc_plate, "--out", tmp_path / "qc", "--no-progress"], capsys)
    assert outcome.code == 0, outcome.err
    fields = pd.read_csv(tmp_path / "qc" / "qc_fields.csv", keep_default_na=False)
    assert list(fields.columns[:3]) == [PLATE, WELL, SITE]
    assert list(fields.columns[-2:]) == [QC_PASS, QC_REASON]
    reasons = {
        (w, s): r for w, s, r in zip(fields[WELL], fields[SITE], fields[QC_REASON], strict=True)
    }
    assert reasons[("A02", 2)].startswith("blur: PowerLogLogSlope")
    assert reasons[("B03", 1)] == "saturation: PercentMaximal RNA"
    assert reasons[("B04", 1)].startswith("empty: Count_Cells")
    assert int((~fields[QC_PASS]).sum()) == 4
    assert "8 fields, 4 failed QC" in outcome.out
    assert "  empty: 2 fields" in outcome.out
    assert "fewer than 1 good field(s): BR00116991 B04 (0)" in outcome.out
    cells = pd.read_parquet(tmp_path / "qc" / "qc_cells.parquet")
    assert {PLATE, WELL, SITE, LABEL, QC_PASS, QC_REASON} <= set(cells.columns)
    blurred = cells[(cells[WELL] == "A02") & (cells[SITE] == 2)]
    assert (blurred[QC_REASON] == "field failed QC").all()


@pytest.mark.slow  # three profile runs of eight fields
def test_profile_leaves_failed_fields_out_and_records_why(qc_plate, tmp_path, capsys):
    out = tmp_path / "profile"
    args = ["profile", qc_plate, "--out", out, "--features", "classical", "--no-progress"]
    outcome = run_cli(args, capsys)
    assert outcome.code == 0, outcome.err
    assert "B04" in outcome.err and "without a field passing QC" in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1
    assert "QC: 4 of 8 fields failed" in outcome.out
    cells = pd.read_parquet(out / "single_cells.parquet")
    assert {QC_PASS, QC_REASON} <= set(cells.columns)  # every cell kept, with its reason
    profiles = pd.read_parquet(out / "well_profiles_classical.parquet")
    assert "B04" not in set(profiles[WELL])
    good = cells[cells[QC_PASS]].groupby(WELL).size()
    counts = profiles.set_index(WELL)["Metadata_Count_Cells"]
    assert counts.to_dict() == good.reindex(counts.index).to_dict()
    # flag: the same caches, every cell profiled; off: no QC columns
    assert run_cli([*args, "--qc", "flag"], capsys).code == 0
    flagged = pd.read_parquet(out / "well_profiles_classical.parquet").set_index(WELL)
    assert flagged.loc["A02", "Metadata_Count_Cells"] == (cells[WELL] == "A02").sum()
    assert run_cli([*args, "--qc", "off"], capsys).code == 0
    assert QC_PASS not in pd.read_parquet(out / "single_cells.parquet").columns


def test_profile_of_a_cache_written_without_qc_measures_qc_and_keeps_the_features(
    qc_plate, tmp_path, capsys
):
    out = tmp_path / "profile"
    args = ["profile", qc_plate, "--out", out, "--features", "classical", "--no-progress"]
    assert run_cli([*args, "--qc", "off"], capsys).code == 0
    cached = {p: p.stat().st_mtime_ns for p in (out / "fields").rglob("*.parquet")}
    outcome = run_cli(args, capsys)
    assert outcome.code == 0, outcome.err
    assert "(0 computed, 8 resumed)" in outcome.out
    assert {p: p.stat().st_mtime_ns for p in cached} == cached
    assert len(pd.read_csv(out / "qc_fields.csv")) == 8


def test_bad_qc_inputs_are_one_line(qc_plate, tmp_path, capsys, monkeypatch):
    base = ["qc", qc_plate, "--out", tmp_path / "qc", "--no-progress"]
    outcome = run_cli([*base, "--qc-threshold", "Sharpness_DNA=-3"], capsys)
    assert outcome.code == 2 and len(outcome.err.strip().splitlines()) == 1
    assert "unknown measure 'Sharpness_DNA'" in outcome.err
    profile = ["profile", qc_plate, "--out", tmp_path / "p", "--features", "classical"]
    outcome = run_cli([*profile, "--no-progress", "--qc", "maybe"], capsys)
    assert outcome.code == 2 and "invalid choice" in outcome.err

    # a plate where every field fails (robust z-scores cannot fail a plate's median field
    # on one test, so every field is made to fail here)
    def everything_fails(measures, rules=None):
        judged = real_flag_fields(measures, rules)
        return judged.assign(**{QC_PASS: False, QC_REASON: "empty: Count_Cells"})

    real_flag_fields = plate_module.flag_fields
    monkeypatch.setattr(plate_module, "flag_fields", everything_fails)
    outcome = run_cli([*profile, "--no-progress"], capsys)
    assert outcome.code == 2, outcome.err
    assert "QC failed every field" in outcome.err and "empty: 8 fields" in outcome.err
    assert "--qc flag" in outcome.err and len(outcome.err.strip().splitlines()) == 1
    assert (tmp_path / "p" / "qc_fields.csv").is_file()  # what failed and why is kept
    assert run_cli([*profile, "--no-progress", "--qc", "flag"], capsys).code == 0


def test_a_well_whose_cells_all_fail_is_named_not_dropped_silently(
    small_demo_project, tmp_path, capsys
):
    """On 128 px demo fields every cell of A02 touches the field's edge: the well has no
    profile with --qc exclude, and the run says so in one line; --qc flag keeps it."""
    from conftest import copy_compound_plate

    project = copy_compound_plate(small_demo_project, tmp_path / "cells")
    common = ["--features", "classical", "--no-progress", "--wells", "A02,P10,B15"]
    excluded = run_cli(["profile", project, "--out", tmp_path / "exclude", *common], capsys)
    assert excluded.code == 0
    cells = pd.read_parquet(tmp_path / "exclude" / "qc_cells.parquet")
    a02 = cells[cells[WELL] == "A02"]
    assert len(a02) and not a02[QC_PASS].any()  # the premise: A02's cells are all edge-cut
    warning = [line for line in excluded.err.splitlines() if "no cell passing QC" in line]
    assert len(warning) == 1 and "BR00116991 A02" in warning[0]
    wells = pd.read_parquet(tmp_path / "exclude" / "well_profiles_classical.parquet")
    assert set(wells[WELL]) == {"P10", "B15"}
    flagged = run_cli(
        ["profile", project, "--out", tmp_path / "flag", *common, "--qc", "flag"], capsys
    )
    assert flagged.code == 0 and "no cell passing QC" not in flagged.err
    wells = pd.read_parquet(tmp_path / "flag" / "well_profiles_classical.parquet")
    assert set(wells[WELL]) == {"A02", "P10", "B15"}

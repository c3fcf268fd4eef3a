"""Anyone's profile tables in the docks, with and without images (run under xvfb-run)."""

from __future__ import annotations

import numpy as np
import pytest
from test_rank import (
    FEATURES,
    synthetic_cells,
    synthetic_well_profiles,
    write_synthetic_project,
)

from napari_phenoscope._widgets._rules_form import RULES_TASK
from napari_phenoscope._widgets._viewer import open_plate
from napari_phenoscope._widgets.docks import add_all_docks
from napari_phenoscope._widgets.retrieval_dock import ALL_FEATURE_SETS
from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CONTROL_TYPE,
    GENE,
    NEGATIVE_CONTROL,
    PLATE,
    SITE,
    WELL,
)
from napari_phenoscope.session.map_layout import map_table
from napari_phenoscope.session.positions import field_key
from napari_phenoscope.session.retrieval import fraction_retrieved_table
from napari_phenoscope.session.state import state_of

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def cells():
    return synthetic_cells()


@pytest.fixture
def wells_csv(cells, tmp_path):
    """Well profiles written as a pycytominer CSV.gz: empty genes are read back as NaN."""
    wells = synthetic_well_profiles(cells)
    wells.loc[wells[CONTROL_TYPE] == NEGATIVE_CONTROL, GENE] = None
    path = tmp_path / "wells_normalized_negcon.csv.gz"
    wells.to_csv(path, index=False)
    return path


def loaded(docks, qtbot, path, name=None) -> str:
    assert docks.profile.load_profiles(path, name), docks.profile.status.text()
    qtbot.waitUntil(lambda: not docks.profile.running, timeout=300_000)
    assert "Feature set" in docks.profile.status.text(), docks.profile.status.text()
    return list(state_of(docks.profile.viewer).session.well_profiles)[-1]


def mapped(widget, qtbot, level, feature_set):
    """A real UMAP in the dock's worker (numba compiles on first use: minutes when loaded)."""
    assert widget.compute(level=level, feature_set=feature_set), widget.status.text()
    qtbot.waitUntil(lambda: not widget.running, timeout=600_000)
    assert widget.embedding is not None, widget.status.text()


def laid_out(widget, level, feature_set):
    """The dock's map of ``level`` with its first two features as the layout (no UMAP)."""
    table, columns = map_table(state_of(widget.viewer).session, level, feature_set, 20_000)
    widget.set_map(table, level, table[columns[:2]].to_numpy(dtype=np.float32))


def map_computed(widget, qtbot, task, feature_set):
    assert widget.compute(task, feature_set), widget.status.text()
    qtbot.waitUntil(lambda: not widget.running, timeout=300_000)


def test_a_table_alone_feeds_every_dock(make_napari_viewer, qtbot, wells_csv, tmp_path):
    viewer = make_napari_viewer()
    docks = add_all_docks(viewer)
    name = loaded(docks, qtbot, wells_csv)
    assert name == "wells_normalized_negcon"
    session = state_of(viewer).session
    assert not session.has_images and session.plates() == ["P-COMPOUND", "P-CRISPR", "P-ORF"]
    assert docks.navigator.status.text() == "3 plate(s) of profiles, no images"
    # Profile map of the wells: a click selects the well and says there are no images
    mapped(docks.profile_map, qtbot, "wells", name)
    docks.profile_map.select_points([0])
    assert "no images in this session" in docks.profile_map.status.text()
    # Similar perturbations works on the numbers alone: BI-2536 finds the PLK1 knockout
    assert docks.similar.find("perturbation", "BI-2536 · compound"), docks.similar.status.text()
    assert docks.similar.ranking.iloc[0]["perturbation"] == "PLK1"
    assert docks.similar.gallery_captions() == []
    # mAP: a CPJUMP1 preset, then copairs' rules from the form
    map_computed(docks.retrieval, qtbot, "replicate", name)
    assert ("replicate", name) in docks.retrieval.results, docks.retrieval.status.text()
    form = docks.retrieval.rules_form
    docks.retrieval.task_combo.setCurrentText(RULES_TASK)
    assert form.isVisibleTo(docks.retrieval)
    form.group_combo.setCurrentText(BROAD_SAMPLE)
    form.reference_edit.setText(f"{CONTROL_TYPE}={NEGATIVE_CONTROL}")
    form.within_combo.setCurrentText(PLATE)
    map_computed(docks.retrieval, qtbot, RULES_TASK, name)
    task = f"{BROAD_SAMPLE} vs {CONTROL_TYPE}={NEGATIVE_CONTROL} within {PLATE}"
    result = docks.retrieval.results[(task, name)]
    # the same pair rules as the preset's: the same APs
    preset = docks.retrieval.results[("replicate", name)].per_query
    ours = result.per_query.sort_values([PLATE, WELL])
    theirs = preset.sort_values([PLATE, WELL])
    np.testing.assert_allclose(ours["average_precision"], theirs["average_precision"])
    assert "all profiles: mAP" in docks.retrieval.summary.text()
    assert docks.retrieval.model.column_names()[0] == BROAD_SAMPLE
    # the Profile dock refuses to segment images it does not have
    assert not docks.profile.run()
    assert "no images in this session" in docks.profile.status.text()
    docks.show("Retrieval")
    viewer.screenshot(str(tmp_path / "table_alone.png"), canvas_only=False)


def test_two_feature_sets_side_by_side(make_napari_viewer, qtbot, wells_csv, cells, tmp_path):
    viewer = make_napari_viewer()
    docks = add_all_docks(viewer)
    first = loaded(docks, qtbot, wells_csv, name="cellprofiler")
    noisy = synthetic_well_profiles(cells)
    rng = np.random.default_rng(0)
    noisy[FEATURES] += rng.normal(scale=3.0, size=noisy[FEATURES].shape)
    noisy.to_parquet(tmp_path / "vit.parquet", index=False)
    second = loaded(docks, qtbot, tmp_path / "vit.parquet", name="vit")
    assert (first, second) == ("cellprofiler", "vit")
    combo = docks.retrieval.feature_combo
    assert [combo.itemText(i) for i in range(combo.count())][-1] == ALL_FEATURE_SETS
    map_computed(docks.retrieval, qtbot, "replicate", ALL_FEATURE_SETS)
    table = fraction_retrieved_table(docks.retrieval.results, "replicate")
    assert list(table.columns) == ["cellprofiler", "vit"]
    assert (table["cellprofiler"] >= table["vit"]).all()  # noise loses replicates
    assert docks.retrieval.plot_combo.currentText() == "fraction retrieved"
    bars = [p for p in docks.retrieval.axes.patches]
    assert len(bars) == 2 * len(table)
    docks.show("Retrieval")
    viewer.screenshot(str(tmp_path / "side_by_side.png"), canvas_only=False)


def test_with_images_a_point_opens_its_well(make_napari_viewer, qtbot, cells, tmp_path):
    root = write_synthetic_project(tmp_path / "project", cells)
    viewer = make_napari_viewer()
    docks = add_all_docks(viewer)
    open_plate(viewer, root)
    single_cells = cells.rename(columns={"label": "Metadata_ObjectNumber"})
    single_cells["Nuclei_Location_Center_X"] = single_cells.pop("Location_Center_X")
    single_cells["Nuclei_Location_Center_Y"] = single_cells.pop("Location_Center_Y")
    path = tmp_path / "single_cells.parquet"
    single_cells.to_parquet(path, index=False)
    name = loaded(docks, qtbot, path, name="cp")
    session = state_of(viewer).session
    assert session.has_images
    assert len(session.well_profiles[name]) == cells.groupby([PLATE, WELL]).ngroups
    # a map of cells: a click opens the cell's field and rings it
    laid_out(docks.profile_map, "cells", name)
    index = docks.profile_map.index
    target = next(i for i, key in enumerate(index.keys) if key[0] == "P-ORF")
    docks.profile_map.select_points([target])
    plate, well, site, label = index.keys[target]
    qtbot.waitUntil(lambda: not docks.profile_map.opening_field, timeout=10_000)
    assert field_key(session) == (plate, well, site)
    assert session.selected == [(plate, well, site, label)]
    # a map of wells: a click opens the well
    laid_out(docks.profile_map, "wells", name)
    index = docks.profile_map.index
    target = next(i for i, key in enumerate(index.keys) if key[0] == "P-CRISPR")
    docks.profile_map.select_points([target])
    assert field_key(session)[:2] == index.keys[target]
    assert field_key(session)[2] == min(session.sites(*index.keys[target]))
    docks.show("Profile map")
    viewer.screenshot(str(tmp_path / "with_images.png"), canvas_only=False)
    assert SITE in session.cells.columns


def test_a_table_of_other_plates_is_refused_in_one_line(
    make_napari_viewer, qtbot, cells, wells_csv, tmp_path
):
    root = write_synthetic_project(tmp_path / "project", cells)
    viewer = make_napari_viewer()
    docks = add_all_docks(viewer)
    open_plate(viewer, root)
    wells = synthetic_well_profiles(cells).assign(**{PLATE: "BR00116991"})
    wells.to_csv(tmp_path / "other.csv", index=False)
    assert docks.profile.load_profiles(tmp_path / "other.csv")
    qtbot.waitUntil(lambda: not docks.profile.running, timeout=300_000)
    assert "are not the open plate(s)" in docks.profile.status.text()
    (tmp_path / "bad.csv").write_text("Metadata_Well,f,f\nA01,1,2\n")
    assert docks.profile.load_profiles(tmp_path / "bad.csv")
    qtbot.waitUntil(lambda: not docks.profile.running, timeout=300_000)
    assert docks.profile.status.text() == "bad.csv: column 'f' appears 2 times"

"""The sample-data contribution opens the BI-2536 well of the demo plate, navigable."""

from __future__ import annotations

import pytest

from napari_phenoscope._widgets.plate_navigator import PlateNavigator
from napari_phenoscope.constants import CHANNELS, PLATE, WELL
from napari_phenoscope.io import read_well_metadata
from napari_phenoscope.session.state import state_of

pytestmark = pytest.mark.gui


def test_sample_opens_bi2536_and_the_navigator_knows_the_plate(make_napari_viewer, demo_project):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-phenoscope", "demo_bi2536")
    assert [layer.name for layer in viewer.layers] == list(CHANNELS)
    navigator = PlateNavigator(viewer)
    session = state_of(viewer).session
    plate, well = session.field_row()[[PLATE, WELL]]
    wells = read_well_metadata(demo_project)
    row = wells[(wells[PLATE] == plate) & (wells[WELL] == well)].iloc[0]
    assert row["Metadata_pert_iname"] == "BI-2536"
    assert "BI-2536" in navigator.info.toPlainText()
    assert len(session.plates()) == 6  # compound, CRISPR and ORF plates, two replicates each


def test_real_field_sample_opens_and_profiles(make_napari_viewer, qtbot):
    from napari_phenoscope._widgets.profile_dock import ProfileDock

    viewer = make_napari_viewer()
    viewer.open_sample("napari-phenoscope", "real_field")
    assert [layer.name for layer in viewer.layers] == list(CHANNELS)
    assert viewer.layers["DNA"].data.shape == (224, 224)
    dock = ProfileDock(viewer)
    assert dock.run(scope="field", features="classical", device="cpu"), dock.status.text()
    qtbot.waitUntil(lambda: not dock.running, timeout=120_000)
    cells = state_of(viewer).session.cells
    assert cells is not None and len(cells) >= 3  # DAOY cells of a real field
    assert set(cells[WELL]) == {"C03"}

"""QC in napari: the navigator runs it, colours wells by failed fields, says why, marks cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qc_plate import write_qc_plate
from qtpy.QtCore import Qt

from napari_phenoscope._widgets._cells import FLAGGED_CELLS, show_field_labels
from napari_phenoscope._widgets.plate_navigator import PlateNavigator
from napari_phenoscope.constants import CHANNELS, LABEL
from napari_phenoscope.io.plate_layout import EMPTY_RGBA, well_grid
from napari_phenoscope.session.compute import profile_field, record_profile
from napari_phenoscope.session.positions import field_key
from napari_phenoscope.session.quality import flagged_labels
from napari_phenoscope.session.state import QC_FAILED_FIELDS

pytestmark = pytest.mark.gui


def test_navigator_qc_colours_wells_explains_fields_and_marks_flagged_cells(
    make_napari_viewer, tmp_path: Path
):
    viewer = make_napari_viewer()
    widget = PlateNavigator(viewer)
    viewer.window.add_dock_widget(widget)
    assert widget.open(str(write_qc_plate(tmp_path)))
    assert widget.run_qc(wait=True)
    assert widget.colour_combo.currentText() == QC_FAILED_FIELDS
    assert widget.status.text() == "QC: 4 of 8 fields failed"
    session = widget.state.session
    wells = session.wells_of("BR00116991").set_index("Metadata_Well")[QC_FAILED_FIELDS]
    assert wells.to_dict() == {"A01": 0, "A02": 1, "B03": 1, "B04": 2}
    grid = well_grid(session.wells_of("BR00116991").reset_index(), QC_FAILED_FIELDS)
    assert grid.legend[0][0] == "0" and grid.legend[-1][0] == "2"
    assert tuple(grid.colors[1, 3]) != tuple(grid.colors[0, 0]) != EMPTY_RGBA  # B04 vs A01

    widget.go_to("BR00116991", "A02", 2)
    text = widget.info.toPlainText()
    assert "QC: failed — blur: PowerLogLogSlope" in text and "(plate" in text
    # the failed site stands out in the site list (red, with its reason) before it is opened
    sites = {widget.site_combo.itemData(i): i for i in range(widget.site_combo.count())}
    failed, passed = sites[2], sites[1]
    assert widget.site_combo.currentData() == 2
    assert widget.site_combo.itemText(failed).startswith("2  ✗ blur: PowerLogLogSlope")
    assert widget.site_combo.itemText(passed) == "1"
    red = widget.site_combo.itemData(failed, Qt.ItemDataRole.ForegroundRole)
    assert red is not None and red.name() == "#ff6666"
    widget.site_combo.setCurrentIndex(passed)
    widget.site_combo.activated.emit(passed)
    assert field_key(session)[2] == 1
    widget.go_to("BR00116991", "A01", 1)
    assert "QC: pass" in widget.info.toPlainText()

    # a segmented field shows its flagged cells outlined, with the reason under the cursor
    key = ("BR00116991", "A01", 1)
    image = np.stack([np.asarray(viewer.layers[c].data) for c in CHANNELS])
    record_profile(session, profile_field(image, key, session.current, ("classical",)))
    cells = session.extras["qc_cells"]
    in_field = (cells["Metadata_Well"] == "A01") & (cells["Metadata_Site"] == 1)
    cells.loc[in_field & (cells[LABEL] == 2), ["QC_pass", "QC_reason"]] = [False, "large cell"]
    flagged = flagged_labels(session, key)
    assert flagged == {2: "large cell"}  # and no cell of a failed field, one by one
    assert flagged_labels(session, ("BR00116991", "B03", 1)) == {}
    assert show_field_labels(viewer, session)
    layer = viewer.layers[FLAGGED_CELLS]
    assert set(np.unique(layer.data)) == {0, 2}
    assert list(layer.features["QC_reason"]) == list(flagged.values())


def test_profile_map_leaves_out_flagged_cells_unless_asked(make_napari_viewer, tmp_path: Path):
    from test_profile_map import profiled_session

    from napari_phenoscope._widgets.profile_map import ProfileMap
    from napari_phenoscope.session.map_layout import map_table

    viewer = make_napari_viewer()
    widget = ProfileMap(viewer)
    session = profiled_session(viewer, tmp_path)
    flagged = np.arange(len(session.cells)) % 3 == 0
    session.cells["QC_pass"] = ~flagged
    session.cells["QC_reason"] = np.where(flagged, "cut by the field edge", "")
    assert widget.hide_flagged.isChecked()  # as the well profiles leave them out
    hidden, _ = map_table(session, "cells", "vit", 10_000, hide_flagged=True)
    shown, features = map_table(session, "cells", "vit", 10_000, hide_flagged=False)
    assert len(hidden) == (~flagged).sum() and hidden["QC_pass"].all()
    assert len(shown) == len(flagged)
    widget._fill_colour_combo(shown, features)
    assert widget.colour_combo.findText("QC_reason") >= 0

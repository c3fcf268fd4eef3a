"""The plate navigator opens OME-Zarr plates and Gallery folders, with metadata set in the dock."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _layouts import (
    GALLERY_PLATE,
    WELLS_1536,
    write_gallery_source,
    write_jump_metadata,
    write_ome_zarr_plate,
)
from conftest import channel_value
from napari_phenoscope._widgets.plate_navigator import PlateNavigator
from napari_phenoscope.constants import CHANNELS, CONTROL_TYPE, PLATE, WELL
from napari_phenoscope.session.state import state_of

pytestmark = pytest.mark.gui


@pytest.fixture
def navigator(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = PlateNavigator(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, widget


def test_ome_zarr_plate_with_a_metadata_table_and_negcon_set_in_the_dock(navigator, tmp_path):
    viewer, widget = navigator
    plate = write_ome_zarr_plate(tmp_path / "plate.zarr")
    table = tmp_path / "wells.csv"
    pd.DataFrame(
        {PLATE: "PLATE01", WELL: ["A01", "A02", "B03"], "Metadata_treatment": ["x", "DMSO", "DMSO"]}
    ).to_csv(table, index=False)
    widget.inputs.metadata_edit.setText(str(table))
    widget.inputs.negcon_edit.setText("treatment=DMSO")
    widget.open(str(plate))
    assert [layer.name for layer in viewer.layers] == list(CHANNELS)
    assert int(np.asarray(viewer.layers["DNA"].data)[0, 0]) == channel_value("A01", 1, "DNA")
    wells = state_of(viewer).session.well_metadata.set_index(WELL)
    assert wells[CONTROL_TYPE].tolist() == ["", "negcon", "negcon"]
    assert "0.65 µm/px" in widget.status.text()
    assert tuple(viewer.layers["DNA"].scale) == pytest.approx((0.65, 0.65))  # NGFF's scale
    widget.colour_combo.setCurrentText(CONTROL_TYPE)
    widget.grid.cellClicked.emit(1, 2)  # B03
    assert int(np.asarray(viewer.layers["DNA"].data)[0, 0]) == channel_value("B03", 1, "DNA")
    assert "DMSO" in widget.info.toPlainText()
    screenshots = os.environ.get("PHENOSCOPE_SCREENSHOTS")
    if screenshots:  # for a person to look at the dock: PHENOSCOPE_SCREENSHOTS=DIR pytest ...
        Path(screenshots).mkdir(parents=True, exist_ok=True)
        viewer.screenshot(str(Path(screenshots) / "navigator_ome_zarr.png"), canvas_only=False)


def test_a_1536_well_ome_zarr_plate_is_drawn_whole_and_its_rows_beyond_z_open(navigator, tmp_path):
    viewer, widget = navigator
    plate = write_ome_zarr_plate(tmp_path / "plate.zarr", wells=WELLS_1536, fields=1)
    table = tmp_path / "wells.csv"
    wells = ["A01", "P24", "Q25", "Z09", "AA01", "AF48"]
    kinds = ["DMSO", "x", "x", "x", "y", "DMSO"]
    pd.DataFrame({PLATE: "PLATE01", WELL: wells, "Metadata_treatment": kinds}).to_csv(
        table, index=False
    )
    widget.inputs.metadata_edit.setText(str(table))
    widget.open(str(plate))
    assert (widget.grid.rowCount(), widget.grid.columnCount()) == (32, 48)
    widget.colour_combo.setCurrentText("Metadata_treatment")
    assert "AF48: DMSO" == widget.grid.item(31, 47).toolTip()
    assert "AA01: y" == widget.grid.item(26, 0).toolTip()
    widget.grid.cellClicked.emit(31, 47)  # AF48, the plate's last well
    assert int(np.asarray(viewer.layers["DNA"].data)[0, 0]) == channel_value("AF48", 1, "DNA")
    widget.grid.cellClicked.emit(25, 8)  # Z09
    assert int(np.asarray(viewer.layers["DNA"].data)[0, 0]) == channel_value("Z09", 1, "DNA")
    assert "x" in widget.info.toPlainText()


def test_gallery_source_with_jump_metadata_opens_corrected(navigator, tmp_path):
    viewer, widget = navigator
    source = write_gallery_source(tmp_path)
    widget.inputs.metadata_edit.setText(str(write_jump_metadata(tmp_path / "jump")))
    widget.inputs.pixel_size_edit.setText("0.656")
    widget.open(str(source))
    assert "illumination-corrected" in widget.status.text()
    assert "0.656 µm/px" in widget.status.text()
    assert viewer.layers["DNA"].metadata["phenoscope"]["illum_corrected"] is True
    session = state_of(viewer).session
    assert session.extras["pixel_size"] == pytest.approx(0.656)
    wells = session.well_metadata.set_index(WELL)
    assert wells.loc["A02", "Metadata_pert_iname"] == "TC-S-7004"
    assert set(session.well_metadata[PLATE]) == {GALLERY_PLATE}


def test_bad_inputs_in_the_dock_become_one_line(navigator, tmp_path):
    viewer, widget = navigator
    plate = write_ome_zarr_plate(tmp_path / "plate.zarr", labels=None)
    widget.open(str(plate))
    assert widget.status.text().startswith("Error: OME-Zarr image")
    assert "\n" not in widget.status.text()
    widget.channel_map_edit.setText("1=DNA,2=ER,3=RNA,4=AGP,5=Mito")
    widget.inputs.pixel_size_edit.setText("abc")
    widget.open(str(plate))
    assert widget.status.text() == "Error: pixel size 'abc' is not a number of µm"
    widget.inputs.pixel_size_edit.setText("")
    widget.inputs.negcon_edit.setText("compound=DMSO")
    widget.open(str(plate))
    assert "--negcon names column compound" in widget.status.text()

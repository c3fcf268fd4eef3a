"""Plate navigator dock in a real napari viewer (run under xvfb-run)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import channel_value
from napari_phenoscope._widgets.plate_navigator import PlateNavigator
from napari_phenoscope.constants import CHANNELS, PERT_INAME
from napari_phenoscope.io.plate_layout import NO_VALUE_RGBA, well_grid
from napari_phenoscope.session.state import state_of

pytestmark = pytest.mark.gui


@pytest.fixture
def navigator(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = PlateNavigator(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, widget


def dna_value(viewer) -> int:
    return int(np.asarray(viewer.layers["DNA"].data)[0, 0])


def test_open_plate_shows_first_field_and_grid(navigator, tiny_plate):
    viewer, widget = navigator
    widget.open(str(tiny_plate))
    assert [layer.name for layer in viewer.layers] == list(CHANNELS)
    assert dna_value(viewer) == channel_value("A01", 1, "DNA")
    assert widget.plate_combo.currentText() == "BR00116991"
    assert "gabapentin-enacarbil" in widget.info.toPlainText()  # A01 on the JUMP map


def test_clicking_a_well_and_site_swaps_the_field(navigator, tiny_plate):
    viewer, widget = navigator
    widget.open(str(tiny_plate))
    widget.grid.cellClicked.emit(1, 2)  # B03
    assert dna_value(viewer) == channel_value("B03", 1, "DNA")
    widget.site_combo.setCurrentText("2")
    widget.site_combo.activated.emit(1)
    assert dna_value(viewer) == channel_value("B03", 2, "DNA")
    assert len(viewer.layers) == 5  # swapped in place, not stacked up


def test_clicking_an_unimaged_well_says_so(navigator, tiny_plate):
    viewer, widget = navigator
    widget.open(str(tiny_plate))
    widget.grid.cellClicked.emit(15, 23)  # P24 was not imaged
    assert "no images for BR00116991 P24" in widget.status.text()
    assert dna_value(viewer) == channel_value("A01", 1, "DNA")


def test_bad_path_shows_a_message_not_a_traceback(navigator, tmp_path):
    _, widget = navigator
    assert widget.reading_options.isHidden()  # folded away while plates open as they are
    widget.open(str(tmp_path / "missing"))
    assert widget.status.text().startswith("Error: no such file or folder")
    assert not widget.reading_options.isHidden()  # unfolded: the fix is often in them
    assert widget.reading_toggle.isChecked()


def test_the_navigator_does_not_force_the_window_taller_than_a_laptop_screen(navigator, tiny_plate):
    viewer, widget = navigator
    widget.open(str(tiny_plate))
    widget.show_reading_options(True)
    # its content scrolls: the left column (layer controls, layer list, navigator) fits 1080p
    assert viewer.window._qt_window.minimumSizeHint().height() < 1000


def test_drag_and_drop_plate_is_adopted(make_napari_viewer, tiny_plate):
    viewer = make_napari_viewer()
    viewer.open(str(tiny_plate), plugin="napari-phenoscope")
    widget = PlateNavigator(viewer)
    assert state_of(viewer).session is not None
    assert widget.plate_combo.currentText() == "BR00116991"


def test_grid_colours_follow_the_metadata(navigator, tiny_plate):
    _, widget = navigator
    widget.open(str(tiny_plate))
    session = state_of(widget.viewer).session
    wells = session.wells_of("BR00116991")
    grid = well_grid(wells, PERT_INAME)
    assert grid.labels[0, 1] == "DMSO"  # A02 is a DMSO well
    counts = well_grid(wells, "cell count")
    assert tuple(counts.colors[0, 0]) == NO_VALUE_RGBA
    session.cell_counts[("BR00116991", "A01")] = 12
    state_of(widget.viewer).events.cells_changed.emit()
    widget.colour_combo.setCurrentText("cell count")
    assert "12" in widget.grid.item(0, 0).toolTip()


def test_a_96_well_plate_is_drawn_whole_and_numbers_get_a_colour_bar(navigator, tiny_plate):
    import pandas as pd

    from napari_phenoscope.io.plate_layout import plate_shape

    assert plate_shape(pd.Series(["A01", "H12"])) == (8, 12)
    assert plate_shape(pd.Series(["A01", "I01"])) == (16, 24)
    _, widget = navigator
    widget.open(str(tiny_plate))
    widget.colour_combo.setCurrentText(PERT_INAME)
    assert not widget.colour_bar.isVisibleTo(widget)  # categories: swatches, named
    assert "pert_iname" in widget.legend.text() and "DMSO" in widget.legend.text()
    session = state_of(widget.viewer).session
    session.cell_counts[("BR00116991", "A01")] = 12
    session.cell_counts[("BR00116991", "A02")] = 30
    state_of(widget.viewer).events.cells_changed.emit()
    widget.colour_combo.setCurrentText("cell count")
    assert widget.colour_bar.isVisibleTo(widget)  # numbers: a colour bar from 12 to 30
    assert "12" in widget.legend.text() and "30" in widget.legend.text()
    wells = session.wells_of("BR00116991")
    shape = plate_shape(wells["Metadata_Well"])
    assert (widget.grid.rowCount(), widget.grid.columnCount()) == shape


@pytest.mark.parametrize(
    ("wells", "shape"),
    [(("A01", "A02", "B03", "P24"), (16, 24)), (("A01", "A02", "AA01", "AF48"), (32, 48))],
    ids=["384", "1536"],
)
def test_grid_legend_and_qc_are_in_view_at_the_default_dock_height(
    make_napari_viewer, tmp_path, qtbot, wells, shape
):
    from conftest import write_tiny_plate
    from napari_phenoscope._widgets.docks import add_plugin_dock, place_navigator

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1680, 1180)  # the tour's and the docs' window
    frame, widget = add_plugin_dock(viewer, "Plate navigator")
    place_navigator(viewer, frame)  # as the demo, `view` and the tour lay it out
    widget.open(str(write_tiny_plate(tmp_path / "plate", wells=wells, sites=(1,))))
    widget.colour_combo.setCurrentText(PERT_INAME)
    qtbot.wait(200)
    assert (widget.grid.rowCount(), widget.grid.columnCount()) == shape
    assert "DMSO" in widget.legend.text()
    for part in (widget.grid, widget.legend, widget.qc_button, widget.colour_combo):
        # whole, not cut by the scroll area: a biologist sees what colours the wells
        assert part.visibleRegion().boundingRect().size() == part.rect().size(), part
    grid = widget.grid  # every column of the plate fits the dock's width
    header = grid.horizontalHeader()
    assert header.sectionViewportPosition(shape[1] - 1) + header.sectionSize(shape[1] - 1) <= (
        grid.viewport().width()
    )


def test_a_1536_well_plate_is_drawn_as_32_by_48_and_its_last_well_opens(navigator, tmp_path):
    from conftest import write_tiny_plate

    viewer, widget = navigator
    widget.open(str(write_tiny_plate(tmp_path / "plate", wells=("A01", "AA01", "AF48"))))
    assert (widget.grid.rowCount(), widget.grid.columnCount()) == (32, 48)
    # named sparsely, so that the names stay legible over 5 px wells
    rows = widget.grid.verticalHeader().names
    assert list(rows.values()) == ["A", "E", "I", "M", "Q", "U", "Y", "AC"]
    assert rows[28] == "AC"
    columns = widget.grid.horizontalHeader().names
    assert list(columns.values()) == ["1", "6", "12", "18", "24", "30", "36", "42", "48"]
    assert columns[47] == "48"
    widget.grid.cellClicked.emit(31, 47)
    assert dna_value(viewer) == channel_value("AF48", 1, "DNA")
    assert widget.site_combo.count() == 2
    widget.grid.cellClicked.emit(26, 0)
    assert dna_value(viewer) == channel_value("AA01", 1, "DNA")
    assert widget.grid.currentRow() == 26 and widget.grid.currentColumn() == 0

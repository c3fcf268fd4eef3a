"""Label images from other tools as a SegmentationResult: renumbered nuclei, kept cells."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.measure import label as connected_components

from napari_phenoscope.errors import LabelsError
from napari_phenoscope.segmentation import segmentation_from_labels


def _cellpose_like() -> tuple[np.ndarray, np.ndarray]:
    """Cells and nuclei labelled independently, as cellpose writes them; one cell has no
    nucleus and one nucleus lies outside every cell."""
    cells = np.zeros((40, 40), bool)
    cells[2:18, 2:18] = cells[2:18, 22:38] = cells[22:38, 2:18] = True
    cells = connected_components(cells).astype(np.uint16) * 10  # ids 10, 20, 30
    nuclei = np.zeros((40, 40), np.uint8)
    nuclei[6:12, 6:12] = 3  # in cell 10
    nuclei[6:12, 26:32] = 1  # in cell 20
    nuclei[26:32, 26:32] = 2  # in no cell
    return cells, nuclei


def test_nuclei_take_the_id_of_their_cell_and_every_cell_is_kept():
    cells, nuclei = _cellpose_like()
    result = segmentation_from_labels(cells, nuclei, plate="P", well="A01", site=1)
    assert sorted(result.table["label"]) == [10, 20, 30]
    assert set(np.unique(result.nuclei)) == {0, 10, 20, 30}
    np.testing.assert_array_equal(result.nuclei[6:12, 6:12], 10)
    assert not result.nuclei[26:32, 26:32].any()  # the stray nucleus is dropped
    np.testing.assert_array_equal(result.nuclei[cells == 30], 30)  # no nucleus: the cell
    np.testing.assert_array_equal(result.cells, cells)
    assert (result.nuclei[result.nuclei > 0] == result.cells[result.nuclei > 0]).all()


def test_cells_only_use_the_cell_as_nucleus():
    cells, _ = _cellpose_like()
    result = segmentation_from_labels(cells)
    np.testing.assert_array_equal(result.nuclei, result.cells)
    assert len(result.table) == 3


@pytest.mark.parametrize(
    "cells, nuclei, message",
    [
        (np.zeros((4, 4, 4), np.int32), None, "2-D"),
        (np.zeros((4, 4), np.float64), None, "integers"),
        (np.zeros((4, 4), np.int32), np.zeros((5, 4), np.int32), "differ in shape"),
        (np.full((4, 4), -1, np.int32), None, "negative"),
    ],
)
def test_bad_arrays_are_named(cells, nuclei, message):
    with pytest.raises(LabelsError, match=message) as caught:
        segmentation_from_labels(cells, nuclei, source="my_masks.tif")
    assert "my_masks.tif" in str(caught.value)

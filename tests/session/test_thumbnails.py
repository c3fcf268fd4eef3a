"""Cell thumbnails for the galleries, headless (no display needed)."""

from __future__ import annotations

import pytest
from test_rank import synthetic_cells, write_synthetic_project

from napari_phenoscope.constants import PLATE
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io import index_plate
from napari_phenoscope.session.thumbnails import cell_thumbnails


def test_cell_thumbnails_are_centred_on_the_cells(tmp_path):
    cells = synthetic_cells(cells_per_well=4)
    write_synthetic_project(tmp_path, cells)
    fields = index_plate(tmp_path)
    rows = cells.iloc[[0, 3]]
    thumbnails = cell_thumbnails(fields, rows, size=16)
    assert [t.shape for t in thumbnails] == [(16, 16, 3), (16, 16, 3)]
    for thumbnail in thumbnails:  # an 8 x 8 bright cell in the middle, dark around it
        assert thumbnail[6:10, 6:10].min() > 0.5 and thumbnail[:2, :2].max() < 0.1
    missing = rows.assign(**{PLATE: "P-NONE"})
    with pytest.raises(PlateFormatError, match="no images for P-NONE"):
        cell_thumbnails(fields, missing)

"""The join key of cells and wells, and the row index by it (a million rows, vectorized)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_phenoscope.constants import PLATE, SITE, WELL
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.join_keys import PointIndex, key_columns, point_keys


def test_point_keys_link_cells_and_wells():
    cells = pd.DataFrame(
        {
            PLATE: ["P1", "P1", "P2"],
            WELL: ["A01", "A01", "B02"],
            SITE: [1, 2, 1],
            "label": [5, 5, 7],
        }
    )
    keys = point_keys(cells, "cells")
    assert keys == [("P1", "A01", 1, 5), ("P1", "A01", 2, 5), ("P2", "B02", 1, 7)]
    index = PointIndex(keys)
    assert index.indices([("P2", "B02", 1, 7), ("P9", "A01", 1, 1)]).tolist() == [2]
    assert index.well_indices([("P1", "A01")]).tolist() == [0, 1]
    assert index.keys_at([1]) == [("P1", "A01", 2, 5)]
    wells = point_keys(cells.drop_duplicates([PLATE, WELL]), "wells")
    assert wells == [("P1", "A01"), ("P2", "B02")]
    # a selected cell highlights its well on a map of wells
    assert PointIndex(wells).indices([("P2", "B02", 1, 7)]).tolist() == [1]
    with pytest.raises(ProfileTableError, match="no column label"):
        point_keys(cells.drop(columns="label"), "cells")


def test_point_index_from_a_table_equals_the_index_of_its_keys():
    rng = np.random.default_rng(2)
    cells = pd.DataFrame(
        {
            PLATE: rng.choice(["P1", "P2", "P10"], 500),
            WELL: rng.choice(["A01", "B02", "P24"], 500),
            SITE: rng.integers(0, 4, 500),
            "label": rng.integers(1, 3000, 500),
        }
    )
    keys = point_keys(cells, "cells")
    index, reference = PointIndex.from_table(cells, "cells"), PointIndex(keys)
    assert index.keys == keys and len(index) == 500
    wanted = [keys[7], keys[400], ("P1", "A01", 9, 1), ("P3", "A01", 1, 1), ("P1", "A01", 1, -4)]
    expected = sorted({i for i, key in enumerate(keys) if key in set(wanted)})  # duplicates too
    assert index.indices(wanted).tolist() == expected == reference.indices(wanted).tolist()
    in_well = [i for i, key in enumerate(keys) if key[:2] == ("P10", "B02")]
    assert index.well_indices([("P10", "B02"), ("P9", "A01")]).tolist() == in_well
    assert index.keys_at([3, 1]) == [keys[3], keys[1]]
    assert index.indices([]).size == 0 and index.well_indices([]).size == 0


def test_key_columns_of_each_level():
    assert key_columns("cells") == [PLATE, WELL, SITE, "label"]
    assert key_columns("wells") == [PLATE, WELL]

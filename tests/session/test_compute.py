"""session.compute without a display: which fields a Profile dock run covers."""

from __future__ import annotations

import numpy as np

import napari_phenoscope.session.compute as _compute
from napari_phenoscope.constants import SITE, WELL


def test_scopes_cover_the_field_its_well_or_its_plate(tiny_plate):
    from napari_phenoscope.io import index_plate

    fields = index_plate(tiny_plate)
    b03_site2 = int(np.flatnonzero((fields[WELL] == "B03") & (fields[SITE] == 2))[0])
    assert _compute.fields_in_scope(fields, b03_site2, "field") == [b03_site2]
    well = fields.iloc[_compute.fields_in_scope(fields, b03_site2, "well")]
    assert set(well[WELL]) == {"B03"} and sorted(well[SITE]) == [1, 2]
    assert _compute.fields_in_scope(fields, b03_site2, "plate") == list(range(len(fields)))

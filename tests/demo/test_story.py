"""The BI-2536 story helpers on the smallest demo project."""

from __future__ import annotations

from napari_phenoscope.demo.project import BI_2536
from napari_phenoscope.demo.story import bi2536_wells
from napari_phenoscope.io import read_well_metadata


def test_bi2536_wells_come_from_the_plate_map(small_demo):
    wells = bi2536_wells(read_well_metadata(small_demo))
    metadata = read_well_metadata(small_demo).set_index(["Metadata_Plate", "Metadata_Well"])
    assert wells and all(metadata.loc[key, "Metadata_broad_sample"] == BI_2536 for key in wells)
    assert wells == sorted(wells)

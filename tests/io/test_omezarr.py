"""OME-Zarr HCS plates (written with ome-zarr-py's writer), zarr v2 and v3."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _layouts import write_ome_zarr_plate
from conftest import channel_value
from napari_phenoscope import io
from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.errors import PlateFormatError


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_plate_indexes_rows_columns_fields_and_reads_channels_by_stain(tmp_path, version):
    plate = write_ome_zarr_plate(tmp_path / "plate.zarr", version=version)
    marker = "zarr.json" if version == "0.5" else ".zattrs"
    assert (plate / marker).is_file()
    fields = io.index_plate(plate)
    assert list(fields[[PLATE, WELL, SITE]].itertuples(index=False, name=None)) == [
        ("PLATE01", well, site) for well in ("A01", "A02", "B03") for site in (1, 2)
    ]
    row = fields[(fields[WELL] == "B03") & (fields[SITE] == 2)].iloc[0]
    field = io.read_field(row)
    assert field.shape == (5, 32, 32) and field.dtype == np.uint16
    assert [int(field[i, 5, 5]) for i in range(5)] == [
        channel_value("B03", 2, channel) for channel in CHANNELS
    ]
    lazy = io.lazy_channel_stack(fields, "Mito")
    assert lazy.shape == (6, 32, 32)
    assert int(lazy[1].compute()[0, 0]) == channel_value("A01", 2, "Mito")
    assert io.field_pixel_size(row.to_dict()) == pytest.approx(0.65)


def test_channel_map_overrides_labels(tmp_path):
    plate = write_ome_zarr_plate(tmp_path / "plate.zarr", labels=["a", "b", "c", "d", "e"])
    with pytest.raises(PlateFormatError, match="channels \\(a, b, c, d, e\\) none of which"):
        io.index_plate(plate)
    fields = io.index_plate(plate, "e=DNA,2=ER,c=RNA,d=AGP,1=Mito")
    field = io.read_field(fields.iloc[0])
    order = ["e", "b", "c", "d", "a"]  # label holding DNA, ER, RNA, AGP, Mito
    written = dict(zip("abcde", CHANNELS, strict=True))
    assert [int(field[i, 0, 0]) for i in range(5)] == [
        channel_value("A01", 1, written[label]) for label in order
    ]


def test_zarr_without_channel_metadata_says_so_in_one_line(tmp_path):
    plate = write_ome_zarr_plate(tmp_path / "plate.zarr", labels=None)
    with pytest.raises(PlateFormatError, match="no channel names .*--channel-map") as error:
        io.index_plate(plate)
    assert "plate.zarr/A/1/0" in str(error.value) and "\n" not in str(error.value)
    fields = io.index_plate(plate, "1=DNA,2=ER,3=RNA,4=AGP,5=Mito")
    assert io.read_field(fields.iloc[0])[0, 0, 0] == channel_value("A01", 1, "DNA")


def test_scale_without_unit_gives_no_pixel_size(tmp_path):
    plate = write_ome_zarr_plate(tmp_path / "plate.zarr", pixel_size_um=None)
    fields = io.index_plate(plate)
    assert io.field_pixel_size(fields.iloc[0].to_dict()) is None


def test_zarr_group_that_is_not_a_plate_is_named(tmp_path):
    import zarr

    zarr.open_group(str(tmp_path / "other.zarr"), mode="w").attrs["hello"] = 1
    with pytest.raises(PlateFormatError, match="other.zarr is not an OME-Zarr plate"):
        io.index_plate(tmp_path / "other.zarr")


def test_well_without_images_is_named(tmp_path):
    plate = write_ome_zarr_plate(tmp_path / "plate.zarr", version="0.4")
    attrs_path = plate / "A" / "2" / ".zattrs"
    attrs = json.loads(attrs_path.read_text())
    attrs["well"]["images"] = []
    attrs_path.write_text(json.dumps(attrs))
    with pytest.raises(PlateFormatError, match="plate.zarr/A/2 lists no images"):
        io.index_plate(plate)

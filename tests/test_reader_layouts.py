"""The npe2 reader opens every layout: Gallery folders, .csv.gz, OME-Zarr plates."""

from __future__ import annotations

import numpy as np

from _layouts import WELLS_1536, write_gallery_source, write_ome_zarr_plate
from conftest import channel_value, write_tiny_plate
from napari_phenoscope._reader import napari_get_reader
from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.io import index_plate
from napari_phenoscope.io.field_layers import METADATA_KEY, field_layer_data
from napari_phenoscope.io.plate_layout import plate_shape


def test_ome_zarr_plate_opens_as_five_lazy_channel_layers(tmp_path):
    plate = write_ome_zarr_plate(tmp_path / "plate.zarr")
    reader = napari_get_reader(str(plate))
    assert reader is not None
    layers = reader(str(plate))
    assert [kwargs["name"] for _, kwargs, _ in layers] == list(CHANNELS)
    data, kwargs, kind = layers[0]
    assert kind == "image" and data.shape == (32, 32)
    assert int(np.asarray(data)[0, 0]) == channel_value("A01", 1, "DNA")
    assert len(kwargs["metadata"][METADATA_KEY]["fields"]) == 6


def test_gallery_source_and_gzipped_load_data_open_illumination_corrected(tmp_path):
    source = write_gallery_source(tmp_path)
    for path in (source, next(source.rglob("load_data_with_illum.csv.gz"))):
        reader = napari_get_reader(str(path))
        assert reader is not None, path
        layers = reader(str(path))
        info = layers[0][1]["metadata"][METADATA_KEY]
        assert info["illum_corrected"] is True
        assert int(np.asarray(layers[0][0]).min()) < channel_value("A01", 1, "DNA")


def test_a_zarr_group_without_ome_metadata_is_not_claimed(tmp_path):
    import zarr

    zarr.open_group(str(tmp_path / "raw.zarr"), mode="w")
    assert napari_get_reader(str(tmp_path / "raw.zarr")) is None


def test_a_1536_well_ome_zarr_plate_names_its_rows_beyond_z(tmp_path):
    plate = write_ome_zarr_plate(tmp_path / "plate.zarr", wells=WELLS_1536, fields=1)
    layers = napari_get_reader(str(plate))(str(plate))
    fields = layers[0][1]["metadata"][METADATA_KEY]["fields"]
    assert list(fields["Metadata_Well"]) == ["A01", "AA01", "AF48", "P24", "Q25", "Z09"]
    last = fields.index[fields["Metadata_Well"] == "AF48"][0]
    planes = field_layer_data(fields, int(last))
    assert int(np.asarray(planes[0][0])[0, 0]) == channel_value("AF48", 1, "DNA")


def test_a_1536_well_phenix_plate_reads_rows_r27_to_r32_as_aa_to_af(tmp_path):
    wells = ("A01", "Q25", "AA01", "AF48")
    plate = write_tiny_plate(tmp_path / "plate", wells=wells, sites=(1,))
    assert (next((plate / "images").rglob("r32c48f01*-ch5*.tiff"))).is_file()  # AF48's DNA
    fields = index_plate(plate)
    assert sorted(fields["Metadata_Well"]) == sorted(wells)
    last = fields.index[fields["Metadata_Well"] == "AF48"][0]
    planes = field_layer_data(fields, int(last))
    assert int(np.asarray(planes[0][0])[0, 0]) == channel_value("AF48", 1, "DNA")
    assert plate_shape(fields["Metadata_Well"]) == (32, 48)

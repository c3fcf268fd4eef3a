"""A field as napari layer data (io/field_layers.py): the reader, sample data and docks share it."""

from __future__ import annotations

import numpy as np

from conftest import channel_value
from napari_phenoscope.constants import CHANNEL_COLORMAPS, CHANNELS, SITE, WELL
from napari_phenoscope.io import index_plate
from napari_phenoscope.io.field_layers import (
    METADATA_KEY,
    field_layer_data,
    robust_contrast_limits,
)


def test_a_constant_plane_gets_limits_that_napari_accepts():
    assert robust_contrast_limits(np.full((8, 8), 7, np.uint16)) == (7.0, 8.0)
    ramp = np.arange(1000, dtype=float).reshape(10, 100)
    low, high = robust_contrast_limits(ramp, low=0, high=100)
    assert (low, high) == (0.0, 999.0)


def test_each_channel_is_a_tagged_image_layer_of_the_field_asked_for(tiny_plate):
    fields = index_plate(tiny_plate)
    index = int(fields.index[(fields[WELL] == "A02") & (fields[SITE] == 2)][0])
    layers = field_layer_data(fields, index, source=tiny_plate)
    assert [kwargs["name"] for _, kwargs, _ in layers] == list(CHANNELS)
    for data, kwargs, kind in layers:
        assert kind == "image" and kwargs["colormap"] == CHANNEL_COLORMAPS[kwargs["name"]]
        assert int(data[0, 0]) == channel_value("A02", 2, kwargs["name"])
        info = kwargs["metadata"][METADATA_KEY]
        assert info["field"] == index and info["fields"] is fields
        assert info["source"] == str(tiny_plate) and info["channel"] == kwargs["name"]
    assert "missing_channels" not in layers[0][1]["metadata"][METADATA_KEY]


def test_missing_channels_are_left_out_and_named_on_the_first_layer(tiny_plate):
    fields = index_plate(tiny_plate)
    fields.loc[0, ["FileName_OrigER", "PathName_OrigER"]] = None
    layers = field_layer_data(fields, 0)
    assert [kwargs["name"] for _, kwargs, _ in layers] == [c for c in CHANNELS if c != "ER"]
    assert layers[0][1]["metadata"][METADATA_KEY]["missing_channels"] == ["ER"]

"""iter_fields: the one field loop (pipeline, batch segmentation, crops, docks) on real files."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import channel_value, phenix_name
from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io import index_plate, iter_fields


def test_fields_come_in_index_order_with_their_keys_and_pixels(tiny_plate):
    fields = index_plate(tiny_plate)
    walked = list(iter_fields(fields))
    assert [f.position for f in walked] == list(range(len(fields)))
    for field, (_, row) in zip(walked, fields.iterrows(), strict=True):
        assert field.key == (str(row[PLATE]), str(row[WELL]), int(row[SITE]))
        assert all(isinstance(part, t) for part, t in zip(field.key, (str, str, int), strict=True))
    first = walked[0]
    image = first.read()
    assert image.shape[0] == len(CHANNELS) and image.dtype == np.uint16
    _, well, site = first.key
    expected = [channel_value(well, site, channel) for channel in CHANNELS]
    assert image.reshape(len(CHANNELS), -1)[:, 0].tolist() == expected


def test_positions_choose_and_order_the_fields(tiny_plate):
    fields = index_plate(tiny_plate)
    walked = list(iter_fields(fields, positions=[3, 0]))
    assert [f.position for f in walked] == [3, 0]
    assert walked[0].key == (
        str(fields.iloc[3][PLATE]),
        str(fields.iloc[3][WELL]),
        int(fields.iloc[3][SITE]),
    )


@pytest.fixture
def plate_without_mito(tiny_plate):
    images = next((tiny_plate / "images").iterdir()) / "Images"
    (images / phenix_name("A01", 1, "Mito")).unlink()
    return tiny_plate


def test_missing_channel_policies(plate_without_mito):
    fields = index_plate(plate_without_mito)
    position = next(i for i, f in enumerate(iter_fields(fields)) if f.key[1:] == ("A01", 1))
    with pytest.raises(PlateFormatError, match="well A01 site 1 has no Mito image file"):
        next(iter(iter_fields(fields, [position]))).read()
    zeros = next(iter(iter_fields(fields, [position], missing="zeros"))).read()
    assert zeros.shape[0] == len(CHANNELS) and not zeros[CHANNELS.index("Mito")].any()
    skipped = next(iter(iter_fields(fields, [position], missing="skip")))
    assert skipped.channels == tuple(c for c in CHANNELS if c != "Mito")
    assert skipped.read().shape[0] == len(CHANNELS) - 1
    skipped.read(require=("DNA",))
    with pytest.raises(PlateFormatError, match="site 1 has no Mito image file"):
        skipped.read(require=("Mito",))


def test_an_unknown_policy_is_refused(tiny_plate):
    with pytest.raises(ValueError, match="missing must be"):
        next(iter_fields(index_plate(tiny_plate), missing="ignore"))

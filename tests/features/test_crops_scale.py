"""Crops cut at the encoder's physical scale (``extract_crops(..., scale=...)``)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_phenoscope.features.crops import crop_scale, extract_crops


def field_with_square(side: int = 20) -> np.ndarray:
    image = np.full((5, 200, 200), 100, np.uint16)
    image[:, 100 - side // 2 : 100 + side // 2, 100 - side // 2 : 100 + side // 2] = 4000
    image[:, 0, 0] = 0  # a dark pixel so that percentile normalisation maps 100 above 0
    return image


@pytest.mark.parametrize(("scale", "expected_side"), [(1.0, 20), (0.5, 10), (2.0, 40)])
def test_a_structure_keeps_its_physical_size_in_crop_pixels(scale, expected_side):
    crops = extract_crops(field_with_square(), np.array([[100.0, 100.0]]), size=64, scale=scale)
    assert crops.shape == (1, 5, 64, 64) and crops.dtype == np.float32
    bright = crops[0, 0] > 0.5 * crops[0, 0].max()
    side = np.sqrt(bright.sum())
    assert abs(side - expected_side) <= 1.5


def test_crop_scale_is_image_over_encoder_pixel_size():
    assert crop_scale(0.65, 1.3) == pytest.approx(0.5)
    assert crop_scale(None, 1.3) == 1.0 and crop_scale(0.65, None) == 1.0
    with pytest.raises(ValueError, match="positive"):
        extract_crops(field_with_square(), np.array([[100.0, 100.0]]), size=8, scale=0)

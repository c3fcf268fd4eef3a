"""Segmentation diameters follow the pixel size: implausible estimates are kept physical."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk

from napari_phenoscope.segmentation.watershed import NUCLEUS_DIAMETER_UM, bounded_nucleus_diameter


def dna_with_nuclei(radius: int = 6) -> np.ndarray:
    rng = np.random.default_rng(0)
    image = rng.normal(200, 10, (128, 128))
    for centre in ((30, 30), (30, 90), (90, 35), (95, 95)):
        image[disk(centre, radius, shape=image.shape)] += 5000
    return np.clip(image, 0, 65535).astype(np.uint16)


def test_plausible_estimate_is_left_to_the_usual_path():
    # ~13 px nuclei at 0.65 um/px: 8.5 um, a normal nucleus
    assert bounded_nucleus_diameter(dna_with_nuclei(), pixel_size=0.65) is None


@pytest.mark.parametrize(("pixel_size", "bound"), [(0.05, 0), (5.0, 1)])
def test_implausible_estimate_is_clipped_to_the_physical_range(pixel_size, bound):
    diameter = bounded_nucleus_diameter(dna_with_nuclei(), pixel_size=pixel_size)
    assert diameter == pytest.approx(NUCLEUS_DIAMETER_UM[bound] / pixel_size)


def test_empty_field_has_nothing_to_bound():
    assert bounded_nucleus_diameter(np.zeros((64, 64), np.uint16), pixel_size=0.65) is None

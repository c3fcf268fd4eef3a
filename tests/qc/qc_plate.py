"""A small plate with known defects: one blurred field, one with debris, one empty well."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage
from skimage.draw import disk

from conftest import phenix_name, write_tiny_plate
from napari_phenoscope.constants import CHANNELS

WELLS = ("A01", "A02", "B03", "B04")
SITES = (1, 2)
SIZE = 128
CENTRES = tuple((y, x) for y in (22, 64, 106) for x in (22, 64, 106))  # nine cells a field


def _field(seed: int, defect: str = "") -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.normal(300, 20, (len(CHANNELS), SIZE, SIZE))
    for centre in [] if defect == "empty" else CENTRES:
        centre = (centre[0] + rng.integers(-3, 4), centre[1] + rng.integers(-3, 4))
        for channel in range(1, len(CHANNELS)):
            image[channel][disk(centre, 11, shape=(SIZE, SIZE))] += rng.uniform(3000, 9000)
        image[0][disk(centre, 5, shape=(SIZE, SIZE))] += rng.uniform(15000, 25000)
    if defect == "blur":
        image = ndimage.gaussian_filter(image, (0, 4, 4))
    image = np.clip(image, 0, 65535)
    if defect == "debris":
        image[2][disk((43, 43), 9, shape=(SIZE, SIZE))] = 65535
    return image.astype(np.uint16)


def write_qc_plate(tmp_path: Path) -> Path:
    """Eight fields; A02 s2 blurred, B03 s1 debris in RNA, B04 both sites empty."""
    defects = {("A02", 2): "blur", ("B03", 1): "debris", ("B04", 1): "empty", ("B04", 2): "empty"}
    project = write_tiny_plate(tmp_path / "project", wells=WELLS, sites=SITES, size=SIZE)
    folder = next((project / "images").glob("*/Images"))
    for index, well in enumerate(WELLS):
        for site in SITES:
            stack = _field(10 * index + site, defects.get((well, site), ""))
            for channel, plane in zip(CHANNELS, stack, strict=True):
                tifffile.imwrite(folder / phenix_name(well, site, channel), plane)
    return project

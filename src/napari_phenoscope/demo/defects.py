"""Field defects for the demo plates: defocus, saturating debris, empty fields, seeded.

Real plates have fields out of focus, fluorescent debris that saturates the camera and
fields with no cells. ``write_demo_plates(defects=f)`` gives a seeded fraction ``f`` of the
fields one of them (``choose_defect``), applied after rendering (``apply_defect``), and
writes the truth beside the plate (``ground_truth/qc_truth.csv``), so QC is measured
against what was done to each field.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_phenoscope.demo.design import _rng
from napari_phenoscope.demo.render import CAMERA_OFFSET, MAX_VALUE, READ_NOISE, DemoField

DEFECTS: tuple[str, ...] = ("defocus", "debris", "empty")
QC_TRUTH_NAME = "qc_truth.csv"
DEFOCUS_SIGMA = (3.0, 5.0)  # px: a field a few microns out of focus
DEBRIS_RADIUS = (12.0, 24.0)  # px
DEBRIS_COUNT = (1, 3)


def choose_defect(seed: int, plate: str, well: str, site: int, fraction: float) -> str:
    """The defect of one field ("" for none), drawn with probability ``fraction``."""
    if fraction <= 0:
        return ""
    rng = _rng(seed, "defect", plate, well, site)
    if rng.random() >= fraction:
        return ""
    return DEFECTS[int(rng.integers(len(DEFECTS)))]


def apply_defect(field: DemoField, defect: str, seed: int, key: tuple[str, str, int]) -> DemoField:
    """``field`` with ``defect`` applied (``""``: unchanged).

    - ``defocus``: every channel blurred with a Gaussian of 3-5 px (the background level
      kept), as a field imaged a few microns from the focal plane;
    - ``debris``: 1-3 discs of 12-24 px saturating 2-5 channels at the camera's maximum;
    - ``empty``: no cells, only camera noise at the field's background level (and empty labels).
    """
    if not defect:
        return field
    if defect not in DEFECTS:
        raise ValueError(f"unknown demo defect {defect!r}; choose from {DEFECTS}")
    rng = _rng(seed, "defect-pixels", *map(str, key))
    image = field.image.astype(np.float32)
    nuclei, cells = field.nuclei, field.cells
    if defect == "defocus":
        sigma = rng.uniform(*DEFOCUS_SIGMA)
        image = ndimage.gaussian_filter(image, (0, sigma, sigma), mode="reflect")
    elif defect == "debris":
        size = image.shape[1:]
        yy, xx = np.mgrid[: size[0], : size[1]]
        for _ in range(int(rng.integers(DEBRIS_COUNT[0], DEBRIS_COUNT[1] + 1))):
            y, x = rng.uniform(0, size[0]), rng.uniform(0, size[1])
            disc = (yy - y) ** 2 + (xx - x) ** 2 <= rng.uniform(*DEBRIS_RADIUS) ** 2
            channels = rng.choice(image.shape[0], int(rng.integers(2, image.shape[0] + 1)), False)
            for channel in channels:
                image[channel][disc] = MAX_VALUE
    else:  # empty: the camera's noise around the field's darkest background level
        background = field.cells == 0
        for channel in range(image.shape[0]):
            pixels = image[channel][background] if background.any() else image[channel].ravel()
            level = float(np.percentile(pixels, 25))
            sd = np.sqrt(max(level - CAMERA_OFFSET, 0.0) + READ_NOISE**2)
            image[channel] = level + sd * rng.standard_normal(image.shape[1:])
        nuclei = np.zeros_like(field.nuclei)
        cells = np.zeros_like(field.cells)
    image = np.clip(np.round(image), 0, MAX_VALUE).astype(np.uint16)
    return DemoField(image, nuclei, cells, field.mitotic, {**field.metadata, "defect": defect})

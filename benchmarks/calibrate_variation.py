"""Calibrate the demo renderer's randomised looks (``demo.variation``) against real fields.

Measured the same way on the real Cell Painting fields under ``../shared/data/real-cellpainting``
(resampled from 0.598 um/px to the demo's 1.3 um/px) and on rendered fields (the demo's own
look, 24 training draws, the held-out look):

- nucleus area (um^2): median and 10th-90th percentiles of Otsu-thresholded DNA objects
  (the same simple segmentation on both sides, so the comparison is like for like);
- nuclei per 100 x 100 um (density);
- per channel, the dynamic range p99.5 / p5 (bright structure over background): the
  intensity knobs (per-channel scale, haze) must span the real channels' spread.

Run: ``python benchmarks/calibrate_variation.py`` (about a minute on one core).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.transform import rescale

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.demo.design import render_well_site
from napari_phenoscope.demo.variation import HELDOUT_STYLE, TRAINING_RANGES, sample_style
from napari_phenoscope.io import index_plate, read_field
from napari_phenoscope.models.preprocessing import DEMO_PIXEL_SIZE_UM

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-cellpainting"
REAL = {
    "DAOY (pediatric atlas)": (
        SHARED / "pediatric_cancer_atlas_profiling" / "images" / "orig",
        "2=ER,3=AGP,4=Mito,5=DNA,6=RNA",
    ),
    "A549 (CPJUMP1 BR00117006)": (SHARED / "JUMP_plate_BR00117006" / "images" / "orig", None),
}
REAL_PIXEL_SIZE_UM = 0.598


def measure(image: np.ndarray, pixel_size_um: float) -> dict[str, object]:
    """Nucleus areas (um^2), nuclei per 100 x 100 um and per-channel p99.5 / p5."""
    dna = ndimage.gaussian_filter(image[0].astype(np.float64), 1.0)
    objects, count = ndimage.label(dna > threshold_otsu(dna))
    areas = np.bincount(objects.ravel())[1:] * pixel_size_um**2
    areas = areas[areas > 20]  # debris and noise specks
    field_um2 = image.shape[1] * image.shape[2] * pixel_size_um**2
    ranges = {}
    for name, plane in zip(CHANNELS, image, strict=True):
        low, high = np.percentile(plane, [5, 99.5])
        ranges[name] = float(high / max(low, 1.0)) if plane.any() else float("nan")
    return {"areas": areas, "density": len(areas) / field_um2 * 1e4, "ranges": ranges}


def real_fields() -> dict[str, dict[str, object]]:
    measured = {}
    for name, (folder, channel_map) in REAL.items():
        fields = index_plate(folder, channel_map)
        image = read_field(fields.iloc[0], channels=CHANNELS, missing="zeros")
        factor = REAL_PIXEL_SIZE_UM / DEMO_PIXEL_SIZE_UM
        resampled = np.stack(
            [
                rescale(p.astype(np.float32), factor, anti_aliasing=True, preserve_range=True)
                for p in image
            ]
        )
        measured[name] = measure(resampled, DEMO_PIXEL_SIZE_UM)
    return measured


def rendered(style, index: int) -> dict[str, object]:
    field = render_well_site(1, "compound", 1, "A01", index + 1, size=384, style=style)
    return measure(field.image, DEMO_PIXEL_SIZE_UM)


def row(name: str, result: dict[str, object]) -> str:
    areas = np.asarray(result["areas"])
    p10, p50, p90 = np.percentile(areas, [10, 50, 90]) if len(areas) else (np.nan,) * 3
    ranges = " | ".join(f"{result['ranges'][c]:.1f}" for c in CHANNELS)
    return f"| {name} | {p50:.0f} ({p10:.0f}-{p90:.0f}) | {result['density']:.1f} | {ranges} |"


def main() -> int:
    print(f"training ranges: {TRAINING_RANGES}\n")
    print(
        "| field | nucleus area um^2, median (p10-p90) | nuclei / 100x100 um | "
        + " | ".join(f"{c} p99.5/p5" for c in CHANNELS)
        + " |"
    )
    print("|" + " --- |" * (3 + len(CHANNELS)))
    for name, result in real_fields().items():
        print(row(f"real {name}", result))
    print(row("demo look (default)", rendered(None, 0)))
    draws = [rendered(sample_style(np.random.default_rng(k)), k) for k in range(24)]
    medians = [np.median(d["areas"]) for d in draws if len(d["areas"])]
    pooled = {
        "areas": np.concatenate([d["areas"] for d in draws]),
        "density": float(np.median([d["density"] for d in draws])),
        "ranges": {c: float(np.median([d["ranges"][c] for d in draws])) for c in CHANNELS},
    }
    print(row("24 training draws (pooled; density and ranges: median)", pooled))
    for channel in CHANNELS:
        values = [d["ranges"][channel] for d in draws]
        print(f"  training draws, {channel} p99.5/p5: {min(values):.1f} .. {max(values):.1f}")
    print(
        f"  training draws, median nucleus area per draw: {min(medians):.0f} .. "
        f"{max(medians):.0f} um^2"
    )
    print(row("held-out look", rendered(HELDOUT_STYLE, 0)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How far real Cell Painting crops are from rendered ones, for one or more encoders.

The real five-channel field under ``../shared/data/real-cellpainting`` (pediatric cancer
atlas, DAOY cells, 20x, channel map ``2=ER,3=AGP,4=Mito,5=DNA,6=RNA``) is resampled to the
encoder's declared pixel size (``preprocessing.pixel_size_um``), segmented and cropped
(scaled per field on both sides: the one real field is its own plate); the same is done for
the first fields of a rendered demo project. Printed per
encoder:

- the MAE reconstruction loss on the real crops and on the rendered crops (fixed 75 % mask,
  seed 0): how well the model, trained on rendered cells only, predicts real texture;
- the Frechet distance between the embedding distributions of real and rendered crops
  (as FID, on the encoder's own features): how far the model places real cells from demo
  cells;

and, model-free, per channel: the mean and spread of crop intensities and the slope of the
radially averaged power spectrum (texture scale), real vs rendered, plus nucleus area in
um^2 at the declared pixel size.

Run::

    python benchmarks/real_vs_rendered.py --rendered /tmp/ablate/demo_seed5_w64_s2 \\
        --model bundled --model /path/to/other.safetensors
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import linalg
from skimage.transform import rescale

from napari_phenoscope.constants import CHANNELS, NUCLEUS_AREA
from napari_phenoscope.features.crops import extract_crops
from napari_phenoscope.io import index_plate, read_field
from napari_phenoscope.models import embed_crops, load_mae
from napari_phenoscope.models.field_inspection import reconstruct
from napari_phenoscope.segmentation import segment_field

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-cellpainting"
REAL = SHARED / "pediatric_cancer_atlas_profiling" / "images" / "orig"
REAL_CHANNEL_MAP = "2=ER,3=AGP,4=Mito,5=DNA,6=RNA"
#: 20x Phenix Opera, as the CPJUMP1 site of ../shared/data/real-profiles records.
REAL_PIXEL_SIZE_UM = 0.598


def cells_of(image: np.ndarray, crop_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Crops (per-field normalised) and nucleus areas in px of one field."""
    segmentation = segment_field(image, channels=CHANNELS)
    crops = extract_crops(image, segmentation.table, size=crop_size)
    return crops, segmentation.table[NUCLEUS_AREA].to_numpy(dtype=float)


def real_crops(pixel_size_um: float, crop_size: int) -> tuple[np.ndarray, np.ndarray]:
    fields = index_plate(REAL, REAL_CHANNEL_MAP)
    image = read_field(fields.iloc[0], channels=CHANNELS).astype(np.float32)
    factor = REAL_PIXEL_SIZE_UM / pixel_size_um
    image = np.stack([rescale(plane, factor, anti_aliasing=True) for plane in image])
    return cells_of(image, crop_size)


def rendered_crops(project: Path, n_fields: int, crop_size: int) -> tuple[np.ndarray, np.ndarray]:
    fields = index_plate(project)
    crops, areas = [], []
    for row in fields.iloc[:: max(len(fields) // n_fields, 1)].head(n_fields).to_dict("records"):
        field_crops, field_areas = cells_of(read_field(row, channels=CHANNELS), crop_size)
        crops.append(field_crops)
        areas.append(field_areas)
    return np.concatenate(crops), np.concatenate(areas)


def spectrum_slope(crops: np.ndarray) -> np.ndarray:
    """Per channel: slope of log power vs log spatial frequency (radial average)."""
    size = crops.shape[-1]
    power = np.abs(np.fft.fftshift(np.fft.fft2(crops - crops.mean((-2, -1), keepdims=True)))) ** 2
    yy, xx = np.indices((size, size)) - size // 2
    radius = np.hypot(yy, xx).astype(int)
    keep = (radius >= 2) & (radius < size // 2)
    slopes = []
    for channel in range(crops.shape[1]):
        mean_power = power[:, channel].mean(0)
        radial = np.bincount(radius[keep], mean_power[keep]) / np.maximum(
            np.bincount(radius[keep]), 1
        )
        frequencies = np.arange(len(radial))
        valid = radial > 0
        slopes.append(np.polyfit(np.log(frequencies[valid]), np.log(radial[valid]), 1)[0])
    return np.array(slopes)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two embedding sets (as FID)."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * np.real(root)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rendered", type=Path, required=True, help="a demo project folder")
    parser.add_argument("--fields", type=int, default=24, help="rendered fields to sample")
    parser.add_argument("--model", action="append", default=[], help="'bundled' or a file")
    args = parser.parse_args(argv)
    if not REAL.is_dir():
        print(f"real fields not found at {REAL}", file=sys.stderr)
        return 2
    for model in args.model or ["bundled"]:
        mae = load_mae(None if model == "bundled" else model)
        preprocessing = mae.encoder.phenoscope_preprocessing
        size, pixel = preprocessing.crop_size, preprocessing.pixel_size_um
        real, real_areas = real_crops(pixel, size)
        rendered, rendered_areas = rendered_crops(args.rendered, args.fields, size)
        real_loss = reconstruct(mae, real, seed=0).loss
        rendered_loss = reconstruct(mae, rendered[:2048], seed=0).loss
        real_emb = embed_crops(mae.encoder, real, device="cpu")
        rendered_emb = embed_crops(mae.encoder, rendered[:2048], device="cpu")
        print(f"\n## {model} (pixel size {pixel} um, crops {size} px)")
        print(f"real cells: {len(real)}, rendered cells: {min(len(rendered), 2048)}")
        print(f"MAE loss real {real_loss:.3f}, rendered {rendered_loss:.3f}")
        print(
            "Frechet distance of embeddings, real vs rendered: "
            f"{frechet(real_emb, rendered_emb):.2f}"
        )
        print(
            "| channel | mean real | mean rendered | sd real | sd rendered "
            "| slope real | slope rendered |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        slopes_real, slopes_rendered = spectrum_slope(real), spectrum_slope(rendered[:2048])
        for index, channel in enumerate(CHANNELS):
            print(
                f"| {channel} | {real[:, index].mean():.3f} | {rendered[:, index].mean():.3f} | "
                f"{real[:, index].std():.3f} | {rendered[:, index].std():.3f} | "
                f"{slopes_real[index]:.2f} | {slopes_rendered[index]:.2f} |"
            )
        um2 = pixel**2
        print(
            f"nucleus area, um^2 (median): real {np.median(real_areas) * um2:.0f}, "
            f"rendered {np.median(rendered_areas) * um2:.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

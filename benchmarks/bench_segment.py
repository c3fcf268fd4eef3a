"""Seconds per 1080 x 1080 five-channel field of ``segment_field`` (target: < 0.5 s).

Run: ``.venv/bin/python benchmarks/bench_segment.py [--repeats 5]``. Fields: the real
pediatric Cell Painting field (../shared/data/real-cellpainting, if present) and a demo
field rendered at 1080 px. Prints the median wall-clock and CPU time per field and their
ratio to the target, plus nuclei F1 (IoU >= 0.5) and cell-count error of the demo field
against its ground truth.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import tifffile

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.demo.project import render_field
from napari_phenoscope.segmentation import match_labels, segment_field

TARGET_S = 0.5
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-cellpainting"
PEDIATRIC_CHANNELS = {"ER": 2, "AGP": 3, "Mito": 4, "DNA": 5, "RNA": 6}  # its own numbering


def pediatric_field() -> np.ndarray | None:
    folder = REAL / "pediatric_cancer_atlas_profiling" / "images" / "orig"
    if not folder.is_dir():
        return None
    names = [f"r03c03f03p01-ch{PEDIATRIC_CHANNELS[c]}sk1fk1fl1.tiff" for c in CHANNELS]
    return np.stack([tifffile.imread(folder / name) for name in names])


def time_field(image: np.ndarray, repeats: int) -> tuple[float, float, object]:
    """Median wall-clock and CPU seconds (CPU time is robust to other jobs on a shared box)."""
    segment_field(image)  # warm-up (imports, caches)
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = segment_field(image)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(wall)), float(np.median(cpu)), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    demo = render_field(0, size=1080)
    fields = {"demo 1080 px (rendered)": demo.image}
    real = pediatric_field()
    if real is not None:
        fields["real pediatric field (BR00143976 C03 s3)"] = real
    for name, image in fields.items():
        seconds, cpu_seconds, result = time_field(image, args.repeats)
        print(
            f"{name}: {seconds:.3f} s/field wall ({seconds / TARGET_S:.2f} x the {TARGET_S} s "
            f"target), {cpu_seconds:.3f} s CPU ({cpu_seconds / TARGET_S:.2f} x), "
            f"{len(result.table)} cells"
        )
        if image is demo.image:
            nuclei = match_labels(result.nuclei, demo.nuclei)
            n_true = int(demo.cells.max())
            error = abs(len(result.table) - n_true) / max(n_true, 1)
            print(f"  nuclei F1 {nuclei.f1:.3f} ({nuclei}), cell count error {error:.1%}")


if __name__ == "__main__":
    main()

"""Classical features of a real 1080 px field: speed before/after, agreement with CellProfiler.

Run: ``.venv/bin/python benchmarks/bench_features.py [--repeats 3] [--baseline REV:PATH]``.
The fields are the real pediatric Cell Painting field and the real CPJUMP1 field
(../shared/data/real-cellpainting), segmented by ``segment_field``. In one run it times
``measure_cells`` of this tree and of the baseline revision (default: the last commit
before CellProfiler's definitions, loaded from git), interleaved, and prints their CPU and
wall-clock medians and ratio. With cp_measure installed (the ``test`` extra) it then
measures Texture (scale 3), Granularity and RadialDistribution of the pediatric field's
cells with cp_measure, CellProfiler's own code, and prints per group and compartment the
Pearson r per column (median and minimum) and the median relative difference.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.features.classical import (
    GRANULARITY_COMPARTMENTS,
    RADIAL_COMPARTMENTS,
    TEXTURE_COMPARTMENTS,
    measure_cells,
)
from napari_phenoscope.segmentation import segment_field

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_segment import REAL, pediatric_field  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BASELINE = "7321643:src/napari_phenoscope/features.py"
CPJUMP1_CHANNELS = {"Mito": 1, "AGP": 2, "RNA": 3, "ER": 4, "DNA": 5}
GROUPS = {
    "Texture": TEXTURE_COMPARTMENTS,
    "Granularity": GRANULARITY_COMPARTMENTS,
    "RadialDistribution": RADIAL_COMPARTMENTS,
}


def cpjump1_field() -> np.ndarray | None:
    """The real CPJUMP1 field (BR00117006 A01 s1): AGP, RNA, DNA present, ER and Mito zero."""
    folder = REAL / "JUMP_plate_BR00117006" / "images" / "orig"
    if not folder.is_dir():
        return None
    paths = [folder / f"r01c01f01p01-ch{CPJUMP1_CHANNELS[c]}sk1fk1fl1.tiff" for c in CHANNELS]
    shape = next(tifffile.imread(path).shape for path in paths if path.is_file())
    return np.stack(
        [tifffile.imread(p) if p.is_file() else np.zeros(shape, np.uint16) for p in paths]
    )


def load_baseline(spec: str):
    """Import a module from ``REV:PATH`` of this repository's history."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", spec], check=True, capture_output=True, text=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_features.py"
    path.write_text(source)
    module_spec = importlib.util.spec_from_file_location("baseline_features", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def time_both(image, nuclei, cells, baseline, repeats: int) -> dict[str, tuple[float, float]]:
    """Median CPU and wall seconds of both implementations, run alternately."""
    runs = {"before": baseline.measure_cells, "after": measure_cells}
    for run in runs.values():
        run(image, nuclei, cells)  # warm-up
    cpu = {name: [] for name in runs}
    wall = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run(image, nuclei, cells)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: (float(np.median(cpu[name])), float(np.median(wall[name]))) for name in runs}


def cellprofiler_columns(image, nuclei, cells) -> tuple[pd.DataFrame, float]:
    """cp_measure's Texture, Granularity and RadialDistribution, named as ours; CPU seconds."""
    from cp_measure.core import measuregranularity, measuretexture
    from cp_measure.core import measureobjectintensitydistribution as radial
    from skimage.segmentation import relabel_sequential

    scaled = image.astype(np.float64) / np.iinfo(image.dtype).max
    labels_of = {
        "Cells": cells,
        "Nuclei": np.where(nuclei > 0, cells, 0),
        "Cytoplasm": np.where(nuclei > 0, 0, cells),
    }
    columns = {}
    start = time.process_time()
    for compartment, labels in labels_of.items():
        dense, _, inverse = relabel_sequential(labels)
        ids = np.asarray(inverse[1 : int(dense.max()) + 1])
        for plane, channel in zip(scaled, CHANNELS, strict=True):
            found = {}
            if compartment in TEXTURE_COMPARTMENTS:
                for key, values in measuretexture.get_texture(dense, plane, scale=3).items():
                    feature, rest = key.split("_", 1)
                    found[f"Texture_{feature}_{channel}_{rest}"] = values
            if compartment in GRANULARITY_COMPARTMENTS:
                for key, values in measuregranularity.get_granularity(dense, plane).items():
                    found[f"Granularity_{key.split('_')[1]}_{channel}"] = values
            if compartment in RADIAL_COMPARTMENTS:
                with np.errstate(divide="ignore", invalid="ignore"):
                    measured = radial.get_radial_distribution(dense, plane)
                for key, values in measured.items():
                    _, feature, ring = key.split("_")
                    found[f"RadialDistribution_{feature}_{channel}_{ring}"] = values
            for name, values in found.items():
                columns[f"{compartment}_{name}"] = pd.Series(values, index=ids)
    return pd.DataFrame(columns), time.process_time() - start


def agreement(ours: pd.DataFrame, oracle: pd.DataFrame) -> pd.DataFrame:
    """Per group and compartment: Pearson r per column (median, min), median relative diff."""
    rows = []
    for group, compartments in GROUPS.items():
        for compartment in compartments:
            names = [c for c in oracle.columns if c.startswith(f"{compartment}_{group}_")]
            reference = oracle[names]
            mine = ours.loc[reference.index, names]
            defined = reference.notna().to_numpy()
            values, expected = mine.to_numpy()[defined], reference.to_numpy()[defined]
            relative = np.abs(values - expected) / np.maximum(np.abs(expected), 1e-12)
            r = [
                np.corrcoef(mine[c][reference[c].notna()], reference[c].dropna())[0, 1]
                for c in names
                if reference[c].dropna().std() > 0
            ]
            rows.append(
                {
                    "group": group,
                    "compartment": compartment,
                    "columns": len(names),
                    "median r": np.median(r),
                    "min r": np.min(r),
                    "median rel. diff": np.median(relative),
                    "max abs diff": np.max(np.abs(values - expected)),
                    "NaN in CP (0 here)": int((~defined).sum()),
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", default=BASELINE, help="REV:PATH of the old module")
    args = parser.parse_args()
    image = pediatric_field()
    if image is None:
        sys.exit("the real pediatric field (../shared/data/real-cellpainting) is absent")
    baseline = load_baseline(args.baseline)
    fields = {"real pediatric field (BR00143976 C03 s3)": image}
    if (cpjump1 := cpjump1_field()) is not None:
        fields["real CPJUMP1 field (BR00117006 A01 s1, ER and Mito absent)"] = cpjump1
    for name, field in fields.items():
        segmentation = segment_field(field)
        times = time_both(field, segmentation.nuclei, segmentation.cells, baseline, args.repeats)
        (cpu_before, wall_before), (cpu_after, wall_after) = times["before"], times["after"]
        print(
            f"{name}, {int(segmentation.cells.max())} cells: measure_cells before "
            f"({args.baseline.split(':')[0]}) {cpu_before:.2f} s CPU, {wall_before:.2f} s wall; "
            f"after {cpu_after:.2f} s CPU, {wall_after:.2f} s wall; ratio after/before "
            f"{cpu_after / cpu_before:.2f} CPU, {wall_after / wall_before:.2f} wall (budget 2.0)"
        )
        if field is image:
            nuclei, cells, cpu_pediatric = segmentation.nuclei, segmentation.cells, cpu_after
    try:
        import cp_measure  # noqa: F401
    except ImportError:
        print("cp_measure not installed (pip install -e .[test]): no agreement table")
        return
    ours = measure_cells(image, nuclei, cells).set_index("label")
    oracle, cpu_cellprofiler = cellprofiler_columns(image, nuclei, cells)
    print(
        f"cp_measure, these three groups only: {cpu_cellprofiler:.2f} s CPU "
        f"({cpu_cellprofiler / cpu_pediatric:.1f} x our whole measure_cells)"
    )
    with pd.option_context("display.width", 160, "display.precision", 4):
        print(agreement(ours, oracle).to_string(index=False))


if __name__ == "__main__":
    main()

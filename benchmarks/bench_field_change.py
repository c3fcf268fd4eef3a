"""Time a field change in the viewer: five 1080 x 1080 channel planes swapped in.

Writes 12 fields of random-valued (incompressible) uncompressed TIFFs, opens them in napari
and prints the median of ``show_field`` (handlers) and of ``show_field`` plus Qt painting,
and of ``field_layer_data`` alone (the read a Profile map click does in a worker).
``--profile`` adds a cProfile of six changes.

    xvfb-run -a .venv/bin/python benchmarks/bench_field_change.py
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
from bench_gui import CHANNEL_NUMBER, FIELD, PLATES, WELLS

from napari_phenoscope.constants import CHANNELS, well_row_col


def write_noise_project(root: Path) -> None:
    rng = np.random.default_rng(0)
    for plate in PLATES:
        folder = root / "images" / f"{plate}__2020-11-05T19_51_35-Measurement1" / "Images"
        folder.mkdir(parents=True)
        for well in WELLS[40:44]:
            row, col = well_row_col(well)
            for channel in CHANNELS:
                name = f"r{row:02d}c{col:02d}f01p01-ch{CHANNEL_NUMBER[channel]}sk1fk1fl1.tiff"
                plane = rng.integers(100, 4000, (FIELD, FIELD), dtype=np.uint16)
                tifffile.imwrite(folder / name, plane)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="cProfile six more changes")
    args = parser.parse_args()

    import napari
    from qtpy.QtWidgets import QApplication

    from napari_phenoscope._widgets._viewer import open_plate, show_field
    from napari_phenoscope.io.field_layers import field_layer_data

    root = Path(tempfile.mkdtemp(prefix="bench_field_"))
    write_noise_project(root)
    viewer = napari.Viewer()
    viewer.window._qt_window.resize(1600, 1000)
    session = open_plate(viewer, root)
    QApplication.processEvents()
    n_fields = len(session.fields)

    def change(i: int) -> tuple[float, float]:
        start = time.perf_counter()
        show_field(viewer, session, i % n_fields)
        handled = time.perf_counter()
        QApplication.processEvents()
        return 1000 * (handled - start), 1000 * (time.perf_counter() - start)

    for i in range(1, 4):  # warm up: the first changes build GL state
        change(i)
    times = [change(i) for i in range(4, 4 + args.repeats)]
    reads = []
    for i in range(args.repeats):
        start = time.perf_counter()
        field_layer_data(session.fields, i % n_fields, source=session.source)
        reads.append(1000 * (time.perf_counter() - start))
    print(
        f"field change, 5 x {FIELD} px planes: show_field median "
        f"{statistics.median(t for t, _ in times):.0f} ms, painted "
        f"{statistics.median(p for _, p in times):.0f} ms; field_layer_data alone "
        f"{statistics.median(reads):.0f} ms (n={args.repeats}); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for i in range(6):
            change(i)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
    viewer.close()


if __name__ == "__main__":
    main()

"""Responsiveness of the Profile map and Similar perturbations docks with 100k cells.

Run under a display (not part of the test suite)::

    xvfb-run -a .venv/bin/python benchmarks/bench_gui.py [--cells 100000] [--map-cells 20000]

It writes a synthetic three-plate project (1080 x 1080 fields, one per well), fills the
session with ``--cells`` single cells of 384 ViT-like features and their well profiles, then

1. times a click -> highlighted cell -> ranked list, through the map (same field and another
   field, which loads it) and through the viewer (the Profile dock's cell click), each up to
   the moment Qt has painted the result (``processEvents`` inside the timed region);
2. lays out a UMAP of ``--map-cells`` cells in the map's worker while a 10 ms QTimer
   measures how long the GUI thread stays blocked (the viewer's interactivity).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CENTER_X,
    CENTER_Y,
    CHANNELS,
    CONTROL_TYPE,
    CPJUMP1_CHANNEL_MAP,
    GENE,
    MODALITY,
    NEGATIVE_CONTROL,
    PERT_INAME,
    PLATE,
    SITE,
    TARGET_LIST,
    WELL,
    well_row_col,
)

FIELD = 1080
N_FEATURES = 384
PLATES = {"BENCH-COMPOUND": "compound", "BENCH-CRISPR": "crispr", "BENCH-ORF": "orf"}
WELLS = [f"{row}{col:02d}" for row in "ABCDEFGHIJKLMNOP" for col in range(1, 25)]  # 384
N_NEGCON_WELLS = 32  # then 88 perturbations x 4 replicate wells per plate
CHANNEL_NUMBER = {name: number for number, name in CPJUMP1_CHANNEL_MAP.items()}
SPACING = 46  # px between cell centres in the synthetic label images (23 x 23 grid)


def cell_center(label: int) -> tuple[float, float]:
    """(y, x) of cell ``label`` in a synthetic field."""
    return 20.0 + SPACING * ((label - 1) // 23), 20.0 + SPACING * ((label - 1) % 23)


def label_image(n_cells: int) -> np.ndarray:
    labels = np.zeros((FIELD, FIELD), np.int32)
    for label in range(1, n_cells + 1):
        y, x = (int(v) for v in cell_center(label))
        labels[max(0, y - 15) : y + 15, max(0, x - 15) : x + 15] = label
    return labels


def write_project(root: Path, fields: list[tuple[str, str, int]]) -> None:
    """Blank (zlib-compressed) five-channel 1080 x 1080 images of ``fields`` (site 1)."""
    blank = np.zeros((FIELD, FIELD), np.uint16)
    for plate in PLATES:
        folder = root / "images" / f"{plate}__2020-11-05T19_51_35-Measurement1" / "Images"
        folder.mkdir(parents=True)
        for well in [w for p, w, _ in fields if p == plate]:
            row, col = well_row_col(well)
            for channel in CHANNELS:
                name = f"r{row:02d}c{col:02d}f01p01-ch{CHANNEL_NUMBER[channel]}sk1fk1fl1.tiff"
                tifffile.imwrite(folder / name, blank, compression="zlib")


def synthetic_cells(n_cells: int, seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """``n_cells`` cells spread over 3 x 384 wells, 264 perturbations plus negative controls."""
    rng = np.random.default_rng(seed)
    features = [f"Cells_ViT_{i:04d}" for i in range(N_FEATURES)]
    n_perturbations = (len(WELLS) - N_NEGCON_WELLS) // 4
    phenotypes = rng.normal(scale=2.0, size=(n_perturbations + 1, N_FEATURES))
    phenotypes[0] = 0.0  # negative controls
    wells = [(plate, well) for plate in PLATES for well in WELLS]
    per_well = int(np.ceil(n_cells / len(wells)))
    plate_of, well_of, pert_of = [], [], []
    for plate, well in wells:
        index = WELLS.index(well)
        pert = 0 if index < N_NEGCON_WELLS else 1 + (index - N_NEGCON_WELLS) // 4
        plate_of.append(plate)
        well_of.append(well)
        pert_of.append(pert)
    cell_well = np.repeat(np.arange(len(wells)), per_well)[:n_cells]
    labels = np.tile(np.arange(1, per_well + 1), len(wells))[:n_cells]
    perts = np.asarray(pert_of)[cell_well]
    values = 5.0 + phenotypes[perts] + rng.normal(size=(n_cells, N_FEATURES))
    table = pd.DataFrame(values.astype(np.float32), columns=features)
    plates = np.asarray(plate_of)[cell_well]
    centers = np.array([cell_center(int(label)) for label in range(1, per_well + 1)])
    meta = pd.DataFrame(
        {
            PLATE: plates,
            WELL: np.asarray(well_of)[cell_well],
            SITE: 1,
            "label": labels,
            CENTER_Y: centers[labels - 1, 0],
            CENTER_X: centers[labels - 1, 1],
            MODALITY: [PLATES[p] for p in plates],
            BROAD_SAMPLE: [f"{PLATES[p]}-{k}" for p, k in zip(plates, perts, strict=True)],
            PERT_INAME: [f"pert-{k}" if k else "DMSO" for k in perts],
            GENE: [f"GENE{k}" if k else "" for k in perts],
            TARGET_LIST: [f"GENE{k}" if k else "" for k in perts],
            CONTROL_TYPE: np.where(perts == 0, NEGATIVE_CONTROL, ""),
        }
    )
    return pd.concat([meta, table], axis=1), features


def well_profiles(cells: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Median per well, robust-normalized to the negcon wells of each plate."""
    meta = [c for c in cells.columns if c.startswith("Metadata_") and c != SITE]
    wells = cells.groupby(meta, sort=False)[features].median().reset_index().copy()
    for _, rows in wells.groupby(PLATE):
        controls = rows.loc[rows[CONTROL_TYPE] == NEGATIVE_CONTROL, features]
        median = controls.median()
        mad = 1.4826 * (controls - median).abs().median()
        wells.loc[rows.index, features] = (rows[features] - median) / mad.where(mad > 0, 1.0)
    return wells


def timed(action, repeats: int) -> tuple[list[float], list[float]]:
    """Milliseconds per call: handlers only, and handlers plus Qt painting the result."""
    from qtpy.QtWidgets import QApplication

    handlers, painted = [], []
    for i in range(repeats):
        QApplication.processEvents()  # start from an idle event queue
        start = time.perf_counter()
        action(i)
        handlers.append(1000 * (time.perf_counter() - start))
        QApplication.processEvents()
        painted.append(1000 * (time.perf_counter() - start))
    return handlers, painted


def describe(name: str, times: tuple[list[float], list[float]]) -> str:
    handlers, painted = times
    return (
        f"{name:<46} handlers median {statistics.median(handlers):6.1f} ms, "
        f"max {max(handlers):6.1f} ms | painted median {statistics.median(painted):6.1f} ms, "
        f"max {max(painted):6.1f} ms  (n={len(handlers)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--map-cells", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    import napari
    from qtpy.QtCore import QTimer

    from napari_phenoscope._widgets._cells import select_cell_at, show_field_labels
    from napari_phenoscope._widgets._viewer import field_key, open_plate
    from napari_phenoscope._widgets._workers import wait_until
    from napari_phenoscope._widgets.profile_map import ProfileMap
    from napari_phenoscope._widgets.similar_dock import SimilarDock
    from napari_phenoscope.session.state import state_of

    root = Path(tempfile.mkdtemp(prefix="bench_gui_"))
    start = time.perf_counter()
    # the fields clicked below are imaged (and segmented); the others only have profiles
    clicked_fields = [(p, w, 1) for p in PLATES for w in WELLS[40:44]]
    write_project(root, clicked_fields)
    cells, features = synthetic_cells(args.cells)
    profiles = well_profiles(cells, features)
    print(
        f"setup: {len(cells)} cells x {len(features)} features, {len(profiles)} wells, "
        f"{profiles[BROAD_SAMPLE].nunique()} perturbations, "
        f"{time.perf_counter() - start:.1f} s"
    )

    viewer = napari.Viewer()
    session = open_plate(viewer, root)
    session.cells = cells
    session.feature_columns = {"vit": features}
    session.well_profiles = {"vit": profiles}
    per_field = int(cells.groupby([PLATE, WELL]).size().max())
    labels = label_image(per_field)
    for key in clicked_fields:
        session.labels[key] = (labels, labels)
    state_of(viewer).events.cells_changed.emit()
    profile_map = ProfileMap(viewer)
    similar = SimilarDock(viewer)
    viewer.window.add_dock_widget(profile_map, name="Profile map")
    viewer.window.add_dock_widget(similar, name="Similar perturbations", tabify=True)

    # --- 2. UMAP of map-cells cells in the worker, GUI thread latency sampled ------------
    profile_map.max_cells.setValue(args.map_cells)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(1000 * (now - last[0]))
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    progress_values: list[int] = []
    profile_map.progress_bar.valueChanged.connect(progress_values.append)
    start = time.perf_counter()
    timer.start(10)
    assert profile_map.compute(level="cells", feature_set="vit"), profile_map.status.text()
    wait_until(lambda: not profile_map.running, 1800)
    timer.stop()
    layout_s = time.perf_counter() - start
    assert profile_map.embedding is not None, profile_map.status.text()
    gaps_sorted = sorted(gaps)
    print(
        f"UMAP of {len(profile_map.embedding)} cells in the worker: {layout_s:.1f} s, "
        f"{len(set(progress_values))} progress updates; GUI thread gaps (10 ms timer): "
        f"median {statistics.median(gaps):.0f} ms, 95th pct "
        f"{gaps_sorted[int(0.95 * (len(gaps) - 1))]:.0f} ms, max {max(gaps):.0f} ms"
    )
    profile_map.canvas.draw()

    # --- 1. click -> highlighted cell + ranked list -------------------------------------
    table = profile_map.table
    keys = profile_map.index.keys
    in_clicked = [i for i, key in enumerate(keys) if tuple(key[:3]) in clicked_fields]
    rng = np.random.default_rng(1)
    order = rng.permutation(in_clicked)
    first = order[0]
    start = time.perf_counter()
    profile_map.select_points([int(first)])
    first_ms = 1000 * (time.perf_counter() - start)
    print(f"first click (builds the 100k-cell key index and negcon stats): {first_ms:.0f} ms")
    assert similar.ranking is not None, similar.status.text()

    same_field = [i for i in order if tuple(keys[i][:3]) == field_key(session)]
    same = timed(
        lambda i: profile_map.select_points([int(same_field[i % len(same_field)])]), args.repeats
    )
    print(describe("map click, cell in the field on show", same))

    def other_field(i: int) -> None:
        current = field_key(session)
        index = next(j for j in order[i:] if tuple(keys[j][:3]) != current)
        profile_map.select_points([int(index)])

    other = timed(other_field, args.repeats)
    print(describe("map click, cell in another field (loads it)", other))

    show_field_labels(viewer, session)
    plate, well, site = field_key(session)
    field_cells = table[(table[PLATE] == plate) & (table[WELL] == well)]["label"].tolist()

    def viewer_click(i: int) -> None:
        label = int(field_cells[i % len(field_cells)])
        assert select_cell_at(viewer, cell_center(label)) is not None

    viewer_times = timed(viewer_click, args.repeats)
    print(describe("viewer click -> map highlight + ranked list", viewer_times))
    print(f"ranked list: {len(similar.ranking)} perturbations; {len(cells)} cells loaded")
    target = 100.0
    for label, part in (("handlers", 0), ("painted", 1)):
        medians = [statistics.median(t[part]) for t in (same, other, viewer_times)]
        print(
            f"{label}: slowest median click {max(medians):.0f} ms vs the {target:.0f} ms target,"
            f" ratio {max(medians) / target:.2f}"
        )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    viewer.close()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Responsiveness of the Profile map and Similar perturbations docks with a million cells.

Run under a display (not part of the test suite)::

    xvfb-run -a .venv/bin/python benchmarks/bench_gui.py [--cells 1000000] [--features 64]

It writes a synthetic three-plate project (1080 x 1080 fields, one per well), fills the
session with ``--cells`` single cells of ``--features`` ViT-like features and their well
profiles, then

1. lays out the map of ``--map-cells`` cells (0: all of them) in the map's worker while a
   10 ms QTimer measures how long the GUI thread stays blocked, and reports each stage
   (PCA + UMAP of the sample, neighbour index, placing the rest) and the peak memory;
2. times drawing every point, panning and zooming (each a full redraw of the canvas);
3. times a click -> highlighted cell -> ranked list, through the map's canvas (a mouse
   event: point search, selection, field loading), through the map for a cell of the field
   on show or of another field, and through the viewer (the Profile dock's cell click),
   each up to the moment Qt has painted the result (``processEvents`` inside the timed
   region); and lassos (200-vertex loops) of about 1 % and 10 % of the points;
4. times the map alone (a canvas whose selection is only ringed, no other dock) at each
   of ``--pick-sizes`` points: click, lassos, the redraw of a selection, a pan; and prints
   the slowest median click or lasso against the 200 ms goal of issue 12.

``--layout-only`` times step 1 headless (no viewer); ``--pick-only`` runs step 4 alone.
"""

from __future__ import annotations

import argparse
import os
import resource
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
TARGET_MS = 200.0  # issue 12: click and lasso at a million points
N_FEATURES = 384
PLATES = {"BENCH-COMPOUND": "compound", "BENCH-CRISPR": "crispr", "BENCH-ORF": "orf"}
WELLS = [f"{row}{col:02d}" for row in "ABCDEFGHIJKLMNOP" for col in range(1, 25)]  # 384
N_NEGCON_WELLS = 32  # then 88 perturbations x 4 replicate wells per plate
CHANNEL_NUMBER = {name: number for number, name in CPJUMP1_CHANNEL_MAP.items()}
GRID = {"side": 23, "spacing": 46.0}  # cells per row and px between centres in a field


def set_grid(cells_per_field: int) -> None:
    """Size the synthetic fields' cell grid so that ``cells_per_field`` cells fit."""
    side = max(23, int(np.ceil(np.sqrt(cells_per_field))))
    GRID.update(side=side, spacing=(FIELD - 40) / side)


def cell_center(label: int) -> tuple[float, float]:
    """(y, x) of cell ``label`` in a synthetic field."""
    side, spacing = GRID["side"], GRID["spacing"]
    return 20.0 + spacing * ((label - 1) // side), 20.0 + spacing * ((label - 1) % side)


def label_image(n_cells: int) -> np.ndarray:
    labels = np.zeros((FIELD, FIELD), np.int32)
    half = int(GRID["spacing"] / 2) - 2
    for label in range(1, n_cells + 1):
        y, x = (int(v) for v in cell_center(label))
        labels[max(0, y - half) : y + half, max(0, x - half) : x + half] = label
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


def synthetic_cells(
    n_cells: int, n_features: int = N_FEATURES, seed: int = 0
) -> tuple[pd.DataFrame, list[str]]:
    """``n_cells`` cells spread over 3 x 384 wells, 264 perturbations plus negative controls."""
    rng = np.random.default_rng(seed)
    features = [f"Cells_ViT_{i:04d}" for i in range(n_features)]
    n_perturbations = (len(WELLS) - N_NEGCON_WELLS) // 4
    phenotypes = rng.normal(scale=2.0, size=(n_perturbations + 1, n_features))
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
    values = np.empty((n_cells, n_features), dtype=np.float32)
    for start in range(0, n_cells, 100_000):  # in chunks: no float64 copy of the whole table
        rows = slice(start, start + 100_000)
        noise = rng.normal(size=(len(perts[rows]), n_features))
        values[rows] = 5.0 + phenotypes[perts[rows]] + noise
    table = pd.DataFrame(values, columns=features, copy=False)
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


def blob_layout(cells: pd.DataFrame, seed: int = 0) -> np.ndarray:
    """A stand-in map: each cell near its perturbation's centre, modalities apart."""
    rng = np.random.default_rng(seed)
    perturbation = cells[PERT_INAME].factorize()[0]
    modality = cells[MODALITY].factorize()[0]
    centres = rng.normal(scale=6, size=(perturbation.max() + 1, 2))
    offsets = np.array([[0, 0], [25, 0], [12, 20]])[modality % 3]
    noise = rng.normal(scale=0.8, size=(len(cells), 2))
    return (centres[perturbation] + offsets + noise).astype(np.float32)


def time_layout(n_cells: int, n_features: int, fit_rows: int) -> float:
    """Lay out ``n_cells`` synthetic cells headless (no viewer); print each stage's time."""
    from napari_phenoscope.profile_map.layout import UmapParams, compute_umap

    start = time.perf_counter()
    cells, features = synthetic_cells(n_cells, n_features)
    matrix = cells[features].to_numpy(dtype=np.float32)
    del cells
    print(f"setup: {n_cells} cells x {n_features} features, {time.perf_counter() - start:.1f} s")
    stages: dict[str, float] = {}

    def report(message: str, _fraction: float) -> None:
        stages.setdefault(message.split(":")[0].split(" ")[0], time.perf_counter())

    start = time.perf_counter()
    # numba compiles UMAP and pynndescent on first use (minutes on 2 cores): once, apart
    compute_umap(matrix[:3000], UmapParams(fit_rows=1000))
    print(f"numba warm-up (a 3000-cell map, sample 1000): {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    embedding = compute_umap(matrix, UmapParams(fit_rows=fit_rows), progress=report)
    layout_s = time.perf_counter() - start
    assert embedding.shape == (n_cells, 2) and np.isfinite(embedding).all()
    marks = sorted(stages.items(), key=lambda item: item[1]) + [("done", start + layout_s)]
    print(
        f"layout of {n_cells} cells x {n_features} features (UMAP of {min(fit_rows, n_cells)}, "
        f"the rest placed): {layout_s:.1f} s; stages: "
        + ", ".join(
            f"{name} {later - then:.1f} s"
            for (name, then), (_, later) in zip(marks[:-1], marks[1:], strict=True)
        )
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"peak RSS {rss:.2f} GiB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    return layout_s


def lasso_loop(embedding: np.ndarray, share: float, n_vertices: int = 200) -> np.ndarray:
    """A hand-drawn-like lasso (a wobbly loop of ``n_vertices``) around the map's centre,
    holding about ``share`` of the points."""
    centre = np.median(embedding, axis=0)
    radius = np.quantile(np.linalg.norm(embedding - centre, axis=1), share)
    angles = np.linspace(0, 2 * np.pi, n_vertices, endpoint=False)
    wobble = radius * (1 + 0.08 * np.sin(5 * angles))
    return centre + np.c_[np.cos(angles), np.sin(angles)] * wobble[:, None]


def time_picking(n_points: int, repeats: int) -> float:
    """The map's own latency with ``n_points`` points: a canvas alone, its selection ringed.

    Click (mouse event -> nearest point -> rings blitted -> painted), lassos of about 1 %
    and 10 % of the points (200-vertex loops -> points inside -> highlight image blitted ->
    painted), the highlight redraw alone, and a pan (re-render + full draw).
    Returns the slowest median click or lasso (ms, painted).
    """
    from matplotlib.backend_bases import MouseEvent
    from qtpy.QtWidgets import QApplication

    from napari_phenoscope._widgets._scatter_canvas import ScatterCanvas
    from napari_phenoscope.profile_map.colours import point_colours
    from napari_phenoscope.profile_map.points import PointLocator

    app = QApplication.instance() or QApplication([])  # noqa: F841 (kept alive)
    rng = np.random.default_rng(2)
    modality = pd.Series(rng.choice(["compound", "crispr", "orf"], n_points))
    centres = rng.normal(scale=6, size=(264, 2))
    offsets = np.array([[0, 0], [25, 0], [12, 20]])[modality.factorize()[0]]
    noise = rng.normal(scale=0.8, size=(n_points, 2))
    embedding = (centres[rng.integers(0, 264, n_points)] + offsets + noise).astype(np.float32)
    start = time.perf_counter()
    locator = PointLocator(embedding)
    index_ms = 1000 * (time.perf_counter() - start)
    plot = ScatterCanvas(on_select=lambda indices: plot.set_highlight(np.asarray(indices)))
    plot.resize(420, 560)  # about the dock's size
    plot.show()
    start = time.perf_counter()
    plot.show_points(embedding, point_colours(modality), "modality", "map", locator)
    plot.canvas.draw()
    QApplication.processEvents()
    draw_ms = 1000 * (time.perf_counter() - start)
    print(f"map of {n_points} points: grid index {index_ms:.0f} ms, first draw {draw_ms:.0f} ms")
    targets = rng.choice(n_points, size=repeats, replace=False)

    def click(i: int) -> None:
        x, y = plot.axes.transData.transform(embedding[targets[i]])
        event = MouseEvent("button_press_event", plot.canvas, x, y, button=1)
        plot.canvas.callbacks.process("button_press_event", event)

    picks = [timed(click, repeats)]
    print(describe(f"{n_points} pts: click", picks[0]))
    for share in (0.01, 0.1):
        loop = [tuple(vertex) for vertex in lasso_loop(embedding, share)]
        picks.append(timed(lambda _i, loop=loop: plot._lasso_done(loop), repeats))
        name = f"{n_points} pts: lasso of {len(plot.highlighted)} ({share:.0%})"
        print(describe(name, picks[-1]))
    chosen = plot.highlighted
    redraw = timed(lambda _i: plot.set_highlight(chosen), repeats)
    print(describe(f"{n_points} pts: redraw of that selection", redraw))
    x0, x1 = plot.axes.get_xlim()

    def pan(i: int) -> None:
        shift = (x1 - x0) * 0.05 * (1 if i % 2 == 0 else -1)
        plot.axes.set_xlim(plot.axes.get_xlim()[0] + shift, plot.axes.get_xlim()[1] + shift)
        plot.canvas.draw()

    print(describe(f"{n_points} pts: pan (re-render + full draw)", timed(pan, repeats)))
    plot.close()
    plot.deleteLater()
    QApplication.processEvents()
    return max(statistics.median(painted) for _, painted in picks)


def timed(action, repeats: int, settle=None) -> tuple[list[float], list[float]]:
    """Milliseconds per call: handlers only, and handlers plus Qt painting the result.

    ``settle`` runs after each timed call, untimed (waiting for a dock's worker).
    """
    from qtpy.QtWidgets import QApplication

    handlers, painted = [], []
    for i in range(repeats):
        QApplication.processEvents()  # start from an idle event queue
        start = time.perf_counter()
        action(i)
        handlers.append(1000 * (time.perf_counter() - start))
        QApplication.processEvents()
        painted.append(1000 * (time.perf_counter() - start))
        if settle is not None:
            settle()
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
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--map-cells", type=int, default=0, help="0: every cell")
    parser.add_argument("--features", type=int, default=N_FEATURES)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--synthetic-layout",
        action="store_true",
        help="skip UMAP: place each cell near its perturbation's centre (times the drawing, "
        "clicks and lassos of a map this size, not its layout)",
    )
    parser.add_argument(
        "--layout-only",
        action="store_true",
        help="time the layout of --cells cells headless (no viewer, no clicks) and stop",
    )
    parser.add_argument("--fit-rows", type=int, default=20_000, help="UMAP sample size")
    parser.add_argument(
        "--pick-sizes",
        default="100000,1000000",
        help="map sizes at which to time the map's own click, lasso and redraw ('' skips)",
    )
    parser.add_argument("--screenshot", help="save the window after the lassos (PNG)")
    parser.add_argument(
        "--pick-only", action="store_true", help="only the map's own click / lasso timings"
    )
    args = parser.parse_args()
    if args.layout_only:
        time_layout(args.cells, args.features, args.fit_rows)
        return
    sizes = [int(size) for size in args.pick_sizes.split(",") if size]
    if not args.pick_only:
        time_docks(args)  # napari first: it sets up the QApplication its own way
    for size in sizes:
        slowest = time_picking(size, args.repeats)
        print(
            f"map alone, {size} points: slowest median click / lasso (painted) "
            f"{slowest:.0f} ms vs the {TARGET_MS:.0f} ms target, ratio {slowest / TARGET_MS:.2f}"
        )
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def time_docks(args: argparse.Namespace) -> None:
    """The map dock and the Similar dock in a viewer: layout, draw, clicks, lassos."""

    import napari
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

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
    set_grid(int(np.ceil(args.cells / (len(PLATES) * len(WELLS)))))
    cells, features = synthetic_cells(args.cells, args.features)
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
    profile_map.max_cells.setValue(args.map_cells or len(cells))
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
    stages: dict[str, float] = {}  # first time each stage was reported
    profile_map.progressed.connect(
        lambda message, _: stages.setdefault(
            message.split(":")[0].split(" ")[0], time.perf_counter()
        )
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    start = time.perf_counter()
    timer.start(10)
    if args.synthetic_layout:
        profile_map.set_map(cells, "cells", blob_layout(cells))
    else:
        assert profile_map.compute(level="cells", feature_set="vit"), profile_map.status.text()
        wait_until(lambda: not profile_map.running, 7200)
    timer.stop()
    layout_s = time.perf_counter() - start
    assert profile_map.embedding is not None, profile_map.status.text()
    gaps_sorted = sorted(gaps) or [1000 * layout_s]
    gaps = gaps or gaps_sorted
    print(
        f"map of {len(profile_map.embedding)} cells in the worker: {layout_s:.1f} s, "
        f"{len(set(progress_values))} progress updates; GUI thread gaps (10 ms timer): "
        f"median {statistics.median(gaps):.0f} ms, 95th pct "
        f"{gaps_sorted[int(0.95 * (len(gaps) - 1))]:.0f} ms, max {max(gaps):.0f} ms"
    )
    marks = sorted(stages.items(), key=lambda item: item[1]) + [("done", start + layout_s)]
    print(
        "  stages: "
        + ", ".join(
            f"{name} {later - then:.1f} s"
            for (name, then), (_, later) in zip(marks[:-1], marks[1:], strict=True)
        )
    )
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"  peak RSS of the process: {rss_before:.2f} GiB before the map, {rss_after:.2f} after")

    # --- drawing, panning and zooming every point ------------------------------------
    canvas, axes = profile_map.canvas, profile_map.axes

    def full_draw(_i: int) -> None:
        canvas.draw()

    print(describe("draw every point (full canvas draw)", timed(full_draw, 3)))
    x0, x1 = axes.get_xlim()
    y0, y1 = axes.get_ylim()

    def pan(i: int) -> None:
        shift = (x1 - x0) * 0.05 * (1 if i % 2 == 0 else -1)
        axes.set_xlim(axes.get_xlim()[0] + shift, axes.get_xlim()[1] + shift)
        canvas.draw()

    print(describe("pan (re-render + full draw)", timed(pan, args.repeats)))

    def zoom(i: int) -> None:
        factor = 0.25 if i % 2 == 0 else 1.0
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        axes.set_xlim(cx - factor * (x1 - x0) / 2, cx + factor * (x1 - x0) / 2)
        axes.set_ylim(cy - factor * (y1 - y0) / 2, cy + factor * (y1 - y0) / 2)
        canvas.draw()

    print(describe("zoom in / out (re-render + full draw)", timed(zoom, args.repeats)))
    axes.set_xlim(x0, x1)
    axes.set_ylim(y0, y1)
    canvas.draw()

    # --- 1. click -> highlighted cell + ranked list -------------------------------------
    table = profile_map.table
    keys = profile_map.index.keys
    in_clicked = [i for i, key in enumerate(keys) if tuple(key[:3]) in clicked_fields]
    rng = np.random.default_rng(1)
    order = rng.permutation(in_clicked)
    first = order[0]

    def ranked() -> None:  # the Similar dock ranks a selection in its worker
        assert wait_until(lambda: not similar.running, 300), "the Similar dock's ranking hung"
        QApplication.processEvents()

    def field_read() -> None:  # the clicked cell's field is read in a worker, then shown
        assert wait_until(lambda: not profile_map.opening_field, 60), profile_map.status.text()
        QApplication.processEvents()

    start = time.perf_counter()
    profile_map.select_points([int(first)])
    field_read()
    ranked()
    first_ms = 1000 * (time.perf_counter() - start)
    print(
        f"first click up to the ranked list (the Similar dock's worker indexes the {len(cells)} "
        f"cells and computes negcon stats): {first_ms:.0f} ms"
    )
    assert similar.ranking is not None, similar.status.text()

    from matplotlib.backend_bases import MouseEvent

    def canvas_click(i: int) -> None:
        x, y = axes.transData.transform(profile_map.embedding[int(order[i % len(order)])])
        event = MouseEvent("button_press_event", canvas, x, y, button=1)
        canvas.callbacks.process("button_press_event", event)

    canvas_times = timed(canvas_click, args.repeats, lambda: (field_read(), ranked()))
    print(describe("canvas click (point search, select, load field)", canvas_times))

    same_field = [i for i in order if tuple(keys[i][:3]) == field_key(session)]
    same = timed(
        lambda i: profile_map.select_points([int(same_field[i % len(same_field)])]),
        args.repeats,
        ranked,
    )
    print(describe("map click, cell in the field on show", same))

    def other_field(i: int) -> None:
        current = field_key(session)
        index = next(j for j in order[i:] if tuple(keys[j][:3]) != current)
        profile_map.select_points([int(index)])

    other = timed(other_field, args.repeats, lambda: (field_read(), ranked()))
    print(describe("map click, cell in another field (answer)", other))

    def other_field_shown(i: int) -> None:
        other_field(i)
        field_read()

    shown = timed(other_field_shown, args.repeats, ranked)
    print(describe("map click -> another field on screen (worker read)", shown))

    show_field_labels(viewer, session)
    plate, well, site = field_key(session)
    field_cells = table[(table[PLATE] == plate) & (table[WELL] == well)]["label"].tolist()

    def viewer_click(i: int) -> None:
        label = int(field_cells[i % len(field_cells)])
        assert select_cell_at(viewer, cell_center(label)) is not None

    viewer_times = timed(viewer_click, args.repeats, ranked)
    print(describe("viewer click -> map highlight (ranking in worker)", viewer_times))
    ranked_times = timed(lambda i: (viewer_click(i), ranked()), args.repeats)
    print(describe("viewer click -> ranked list filled (worker)", ranked_times))
    print(f"ranked list: {len(similar.ranking)} perturbations; {len(cells)} cells loaded")

    embedding = profile_map.embedding
    lassos = []
    for share in (0.01, 0.1):
        loop = [tuple(vertex) for vertex in lasso_loop(embedding, share)]
        lasso_times = timed(lambda _i, loop=loop: profile_map.plot._lasso_done(loop), 3)
        lassos.append(lasso_times)
        print(describe(f"lasso of {len(session.selected)} points ({share:.0%})", lasso_times))
    if args.screenshot:  # the window with the map dock in front and the 10 % lasso selected
        viewer.window._qt_window.resize(1600, 1000)
        profile_map.parent().raise_()
        QApplication.processEvents()
        viewer.screenshot(args.screenshot, canvas_only=False)
        print(f"screenshot: {args.screenshot}")

    for label, part in (("handlers", 0), ("painted", 1)):
        timings = (same, other, viewer_times, canvas_times, *lassos)
        medians = [statistics.median(t[part]) for t in timings]
        print(
            f"docks, {label}: slowest median click {max(medians):.0f} ms vs the "
            f"{TARGET_MS:.0f} ms target, ratio {max(medians) / TARGET_MS:.2f}"
        )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    viewer.close()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

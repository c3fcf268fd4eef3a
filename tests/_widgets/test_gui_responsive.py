"""Every long dock action keeps the GUI answering: a 10 ms timer never waits 250 ms while a
plate opens, fields are profiled, a map is laid out, mAP is evaluated, a field is
inspected or tables are loaded; cancelling mid-way leaves the dock usable, and for the
Profile map and mAP kills the computation itself within a second (run under xvfb-run).

Set PHENOSCOPE_GAP_LOG=FILE to append each action's longest gap to FILE (docs/reliability.md).
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import pytest
from qtpy.QtCore import QTimer
from test_profile_dock import small_weights, write_cell_plate
from test_profile_map import profiled_session

import napari_phenoscope._widgets.inspect_dock as inspect_dock
import napari_phenoscope._widgets.plate_navigator as plate_navigator
import napari_phenoscope._widgets.profile_dock as profile_dock
from conftest import valid_well_profiles
from napari_phenoscope._widgets._cells import select_cell_at
from napari_phenoscope._widgets.profile_map import ProfileMap
from napari_phenoscope._widgets.retrieval_dock import RetrievalDock
from napari_phenoscope.session.state import state_of

pytestmark = pytest.mark.gui
__all__ = ["small_weights"]  # a fixture shared with the profile dock tests

LONGEST_GAP_S = 0.25
MINUTES = 60_000  # ms: UMAP's numba compilation alone takes ~40 s on two busy cores


class GapMeter:
    """A 10 ms GUI timer and the longest wait between two of its ticks.

    Gaps that overlap a call of a watched display function (napari adding the result's
    layers, matplotlib drawing a plot: GUI-thread work by nature) or a garbage collection
    (the interpreter's, in whichever thread allocates: a full one finalising napari's vispy
    objects took ~0.5 s once) are kept apart from the gaps while the action computes, which
    must stay under ``LONGEST_GAP_S``.
    """

    def __init__(self, action: str, monkeypatch: pytest.MonkeyPatch | None = None) -> None:
        self.action = action
        self.monkeypatch = monkeypatch
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.gaps: list[tuple[float, float]] = []
        self.displays: list[tuple[float, float]] = []
        self.collections: list[tuple[float, float]] = []
        self._collecting_since = 0.0

    def _gc_callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._collecting_since = time.perf_counter()
        else:
            self.collections.append((self._collecting_since, time.perf_counter()))

    def watch(self, owner: object, name: str) -> None:
        """Time every call of ``owner.name`` as showing a result (GUI-thread work)."""
        original = getattr(owner, name)
        displays = self.displays

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                displays.append((started, time.perf_counter()))

        self.monkeypatch.setattr(owner, name, timed)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((self.last, now))
        self.last = now

    def _overlaps_display(self, gap: tuple[float, float]) -> bool:
        return any(start < gap[1] and end > gap[0] for start, end in self.displays)

    def _overlaps_collection(self, gap: tuple[float, float]) -> bool:
        return any(start < gap[1] and end > gap[0] for start, end in self.collections)

    @property
    def longest(self) -> float:
        """The longest gap while the action computed (not while it showed its result)."""
        waits = [
            end - start
            for start, end in self.gaps
            if not self._overlaps_display((start, end))
            and not self._overlaps_collection((start, end))
        ]
        return max(waits, default=0.0)

    @property
    def longest_collection(self) -> float:
        """The longest gap that overlaps a garbage collection (and no display)."""
        waits = [
            end - start
            for start, end in self.gaps
            if self._overlaps_collection((start, end)) and not self._overlaps_display((start, end))
        ]
        return max(waits, default=0.0)

    @property
    def longest_display(self) -> float:
        """The longest gap that overlaps showing a result."""
        shows = [end - start for start, end in self.gaps if self._overlaps_display((start, end))]
        return max(shows, default=0.0)

    def __enter__(self) -> GapMeter:
        self.last = time.perf_counter()  # the start call itself counts
        gc.callbacks.append(self._gc_callback)
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.stop()
        gc.callbacks.remove(self._gc_callback)
        self._tick()
        log = os.environ.get("PHENOSCOPE_GAP_LOG")
        if log and exc[0] is None:
            with open(log, "a") as handle:
                handle.write(
                    f"{self.action}\t{1000 * self.longest:.0f}\t"
                    f"{1000 * self.longest_display:.0f}\t{1000 * self.longest_collection:.0f}"
                    f"\t{len(self.gaps)}\n"
                )

    def check(self) -> None:
        assert len(self.gaps) > 1, "the timer never ran: nothing was measured"
        assert self.longest < LONGEST_GAP_S, (
            f"{self.action}: the GUI froze for {1000 * self.longest:.0f} ms while computing"
        )


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


@pytest.fixture
def cell_plate(tmp_path: Path) -> Path:
    return write_cell_plate(tmp_path / "cells")


def docked(viewer, dock_class):
    dock = dock_class(viewer)
    viewer.window.add_dock_widget(dock)
    return dock


def settle(qtbot) -> None:
    """Let the new viewer and docks finish their first layout before measuring."""
    qtbot.wait(300)


def idle(qtbot, dock, timeout: int = 5 * MINUTES) -> None:
    qtbot.waitUntil(lambda: not dock.running, timeout=timeout)


def test_opening_a_plate(viewer, qtbot, cell_plate, tmp_path, monkeypatch):
    navigator = docked(viewer, plate_navigator.PlateNavigator)
    other = write_cell_plate(tmp_path / "other", wells=("C05",), sites=(1,))
    settle(qtbot)
    with GapMeter("Plate navigator: open a plate", monkeypatch) as meter:
        meter.watch(plate_navigator, "show_opened_plate")  # napari adds 5 image layers
        assert navigator.open(str(other), wait=False)
        assert navigator.open(str(cell_plate), wait=False)  # supersedes the first
        qtbot.waitUntil(lambda: state_of(viewer).session is not None, timeout=MINUTES)
        idle(qtbot, navigator)
        qtbot.wait(200)  # the first read's result, had it not been dropped, would land now
    session = state_of(viewer).session
    assert session.source == cell_plate  # the newer plate won, the older read was dropped
    assert len(session.fields) == 6 and "C05" not in set(session.fields["Metadata_Well"])
    assert navigator.plate_combo.currentText() == "BR00116991"
    meter.check()


def test_profiling_a_plate_and_cancelling(viewer, qtbot, cell_plate, small_weights, monkeypatch):
    navigator, profile = (
        docked(viewer, plate_navigator.PlateNavigator),
        docked(viewer, profile_dock.ProfileDock),
    )
    assert navigator.open(str(cell_plate))
    profile.weights_edit.setText(str(small_weights))
    original, started = profile_dock._compute.profile_field, []

    def held_after_the_first(*args, **kwargs):
        # fields are fast enough that all six could land before the test's Cancel (it
        # did once in CI): field 2 waits for Cancel, so the cancel is mid-way every time
        started.append(args[1])
        if len(started) == 2:
            assert profile._cancel.wait(timeout=60)
        return original(*args, **kwargs)

    monkeypatch.setattr(profile_dock._compute, "profile_field", held_after_the_first)
    settle(qtbot)
    with GapMeter(
        "Profile: profile a plate (ViT + classical), cancel, profile again", monkeypatch
    ) as meter:
        meter.watch(profile_dock, "show_field_labels")  # napari adds the Labels layers
        assert profile.run(scope="plate", features="both", device="cpu")
        qtbot.waitUntil(lambda: profile._done >= 1, timeout=5 * MINUTES)
        profile.cancel()  # mid-way: after the first of six fields
        idle(qtbot, profile)
        assert profile.status.text().startswith("Cancelled after"), profile.status.text()
        assert profile.run(scope="plate", features="both", device="cpu")  # still usable
        idle(qtbot, profile)
    session = state_of(viewer).session
    assert len(session.labels) == 6, profile.status.text()
    assert set(session.well_profiles) == {"vit", "classical"}, profile.status.text()
    meter.check()


def _cancel_midway(qtbot, dock, start, seconds_in: float) -> float:
    """Start, let the child process work ``seconds_in``, cancel; seconds until it is gone."""
    assert start(), dock.status.text()
    qtbot.waitUntil(lambda: dock.child_process.alive, timeout=MINUTES)
    qtbot.wait(int(1000 * seconds_in))
    assert dock.running and dock.child_process.alive, "finished before it could be cancelled"
    cancelled_at = time.perf_counter()
    dock.cancel()
    qtbot.waitUntil(lambda: not dock.child_process.alive, timeout=5_000)
    return time.perf_counter() - cancelled_at


@pytest.mark.slow  # numba compiles UMAP in each new child: twice here, ~40 s each when busy
def test_laying_out_the_profile_map_and_cancelling(viewer, qtbot, tmp_path, monkeypatch):
    dock = docked(viewer, ProfileMap)
    profiled_session(viewer, tmp_path / "project")
    settle(qtbot)
    with GapMeter("Profile map: lay out cells, cancel, lay out again", monkeypatch) as meter:
        meter.watch(ProfileMap, "set_map")  # matplotlib draws the points
        start = lambda: dock.compute(level="cells", feature_set="vit")  # noqa: E731
        stopped_in = _cancel_midway(qtbot, dock, start, seconds_in=3.0)
        assert not dock.running and dock.compute_button.isEnabled()
        assert dock.status.text() == "Map cancelled."
        assert dock.compute(level="cells", feature_set="vit")  # still usable: a whole run
        idle(qtbot, dock, timeout=10 * MINUTES)
    assert stopped_in < 1.0
    assert dock.embedding is not None and len(dock.embedding) == len(dock.table)
    assert dock.child_process.alive  # kept warm for the next layout
    meter.check()


def test_evaluating_retrieval_and_cancelling(viewer, qtbot, tmp_path, monkeypatch):
    dock = docked(viewer, RetrievalDock)
    profiled_session(viewer, tmp_path / "project")
    settle(qtbot)
    with GapMeter("mAP: evaluate, cancel, evaluate again", monkeypatch) as meter:
        meter.watch(RetrievalDock, "show_result")  # the table and matplotlib's plot
        start = lambda: dock.compute("replicate", "vit")  # noqa: E731
        stopped_in = _cancel_midway(qtbot, dock, start, seconds_in=0.5)
        assert not dock.running and dock.compute_button.isEnabled()
        assert dock.status.text() == "Cancelled: the result will not be shown."
        assert dock.compute("replicate", "vit")
        idle(qtbot, dock)
    assert stopped_in < 1.0
    assert ("replicate", "vit") in dock.results, dock.status.text()
    assert "mAP" in dock.summary.text()
    meter.check()


def test_inspecting_a_field(viewer, qtbot, cell_plate, small_weights, monkeypatch):
    navigator, profile = (
        docked(viewer, plate_navigator.PlateNavigator),
        docked(viewer, profile_dock.ProfileDock),
    )
    inspect = docked(viewer, inspect_dock.InspectDock)
    assert navigator.open(str(cell_plate))
    assert profile.run(scope="field", features="classical", device="cpu")
    idle(qtbot, profile)
    inspect.weights_edit.setText(str(small_weights))
    settle(qtbot)
    with GapMeter("Inspect: reconstruct a cell, then the tiled field", monkeypatch) as meter:
        meter.watch(inspect_dock, "show_inspection")  # napari adds 4 image layers
        select_cell_at(viewer, (40, 40))
        assert inspect.run(mode="cell", seed=1)
        idle(qtbot, inspect)
        assert inspect.run(mode="field", seed=1)
        idle(qtbot, inspect)
    assert inspect_dock.LAYER_RECONSTRUCTION in viewer.layers, inspect.status.text()
    assert inspect.last is not None and inspect.last.key == ("BR00116991", "A01", 1)
    meter.check()


def test_loading_pipeline_output(viewer, qtbot, cell_plate, monkeypatch):
    from napari_phenoscope.profiling.pipeline import profile_plates

    outputs = profile_plates([cell_plate], cell_plate / "out", "classical", progress=False)
    navigator, profile = (
        docked(viewer, plate_navigator.PlateNavigator),
        docked(viewer, profile_dock.ProfileDock),
    )
    assert navigator.open(str(cell_plate))
    settle(qtbot)
    with GapMeter("Profile: load pipeline output", monkeypatch) as meter:
        assert profile.load_output(cell_plate / "out")
        idle(qtbot, profile)
    assert profile.status.text().startswith(f"Loaded {outputs.n_cells} cells")
    meter.check()


def test_loading_a_profile_table(viewer, qtbot, tmp_path, monkeypatch):
    profile = docked(viewer, profile_dock.ProfileDock)
    table = tmp_path / "profiles.csv"
    valid_well_profiles().to_csv(table, index=False)
    settle(qtbot)
    with GapMeter("Profile: load a profile table", monkeypatch) as meter:
        assert profile.load_profiles(table, "table")
        idle(qtbot, profile)
    assert "Feature set 'table'" in profile.status.text(), profile.status.text()
    meter.check()

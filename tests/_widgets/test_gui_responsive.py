"""Long dock actions keep the GUI answering (a 10 ms timer never waits 250 ms), and Cancel
kills the computation itself within a second, leaving the dock usable (run under xvfb-run)."""

from __future__ import annotations

import multiprocessing
import time

import pytest
from qtpy.QtCore import QTimer
from test_profile_map import profiled_session

from napari_phenoscope._widgets.map_dock import MapDock
from napari_phenoscope._widgets.profile_map import ProfileMap

pytestmark = pytest.mark.gui
LONGEST_GAP_S = 0.25


class GapMeter:
    """A 10 ms GUI timer; ``longest`` is the longest wait between two of its ticks."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.last: float | None = None
        self.longest = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.longest = max(self.longest, now - self.last)
        self.last = now

    def __enter__(self) -> GapMeter:
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.stop()


def _child_running() -> bool:
    return bool(multiprocessing.active_children())


def _cancel_midway(qtbot, dock, start, seconds_in: float) -> float:
    """Start, let the child process work ``seconds_in``, cancel; seconds until it is gone."""
    assert start(), dock.status.text()
    qtbot.waitUntil(_child_running, timeout=60_000)
    qtbot.wait(int(1000 * seconds_in))
    assert dock.running and _child_running(), "finished before it could be cancelled"
    cancelled_at = time.perf_counter()
    dock.cancel()
    qtbot.waitUntil(lambda: not _child_running(), timeout=5_000)
    return time.perf_counter() - cancelled_at


def test_profile_map_layout_answers_and_cancels(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    dock = ProfileMap(viewer)
    viewer.window.add_dock_widget(dock)
    profiled_session(viewer, tmp_path / "project")
    with GapMeter() as meter:
        start = lambda: dock.compute(level="cells", feature_set="vit")  # noqa: E731
        stopped_in = _cancel_midway(qtbot, dock, start, seconds_in=1.0)
        assert not dock.running and dock.compute_button.isEnabled()
        assert dock.compute(level="cells", feature_set="vit")  # still usable: a whole run
        qtbot.waitUntil(lambda: not dock.running, timeout=300_000)
    assert stopped_in < 1.0
    assert dock.embedding is not None and len(dock.embedding) == len(dock.table)
    assert meter.longest < LONGEST_GAP_S, f"the GUI froze for {meter.longest:.3f} s"


def test_map_evaluation_answers_and_cancels(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    dock = MapDock(viewer)
    viewer.window.add_dock_widget(dock)
    profiled_session(viewer, tmp_path / "project")
    with GapMeter() as meter:
        start = lambda: dock.compute("replicate", "vit")  # noqa: E731
        stopped_in = _cancel_midway(qtbot, dock, start, seconds_in=0.2)
        assert not dock.running and dock.compute_button.isEnabled()
        assert dock.compute("replicate", "vit")
        qtbot.waitUntil(lambda: not dock.running, timeout=300_000)
    assert stopped_in < 1.0
    assert ("replicate", "vit") in dock.results, dock.status.text()
    assert meter.longest < LONGEST_GAP_S, f"the GUI froze for {meter.longest:.3f} s"

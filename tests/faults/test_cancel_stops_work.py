"""Cancelling a UMAP layout or an mAP evaluation stops the work itself within a second."""

from __future__ import annotations

import multiprocessing
import threading
import time

import numpy as np
import pytest

from conftest import valid_well_profiles
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.evaluation.tasks import evaluate
from napari_phenoscope.profile_map.layout import UmapParams, compute_umap
from napari_phenoscope.session.interruptible import Cancelled, run_interruptible


def _cancel_midway(function, *args, started, **kwargs) -> tuple[float, BaseException | None]:
    """Run in a thread, cancel once ``started()`` holds; seconds from cancel to the end."""
    cancel = threading.Event()
    outcome: dict[str, BaseException | None] = {"error": None}

    def target() -> None:
        try:
            run_interruptible(function, *args, cancel=cancel, **kwargs)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + 300
    while not started() and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert thread.is_alive(), "the computation ended before it could be cancelled"
    cancelled_at = time.monotonic()
    cancel.set()
    thread.join(timeout=30)
    return time.monotonic() - cancelled_at, outcome["error"]


def test_cancelling_a_umap_layout_kills_its_process_within_a_second():
    features = np.random.default_rng(0).normal(size=(20_000, 30)).astype(np.float32)
    epochs: list[float] = []
    seconds, error = _cancel_midway(
        compute_umap,
        features,
        UmapParams(),
        progress=lambda message, fraction: epochs.append(fraction),
        started=lambda: any(0.2 < fraction < 1.0 for fraction in epochs),  # mid-layout
    )
    assert isinstance(error, Cancelled)
    assert seconds < 1.0
    assert multiprocessing.active_children() == []  # nothing keeps burning the cores


def test_cancelling_an_map_evaluation_kills_its_process_within_a_second():
    profiles = valid_well_profiles()
    children_seen = lambda: bool(multiprocessing.active_children())  # noqa: E731
    started_at = time.monotonic()
    seconds, error = _cancel_midway(
        evaluate,
        profiles,
        "replicate",
        50_000_000,  # copairs' exact null this large runs ~10 s alone on 2 cores
        null="copairs",
        started=lambda: children_seen() and time.monotonic() - started_at > 3,
    )
    assert isinstance(error, Cancelled)
    assert seconds < 1.0
    assert multiprocessing.active_children() == []


def test_an_uncancelled_run_gives_the_in_process_result():
    features = np.random.default_rng(1).normal(size=(200, 8)).astype(np.float32)
    expected = compute_umap(features, UmapParams())
    actual = run_interruptible(compute_umap, features, UmapParams(), cancel=threading.Event())
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.xfail(
    reason="seen once on a loaded machine: the pipe reached EOF before the child's error "
    "(exit code None); under investigation",
    strict=False,
)
def test_errors_of_the_child_reach_the_caller_as_they_are():
    with pytest.raises(ProfileTableError, match="at least"):
        run_interruptible(compute_umap, np.zeros((3, 2)), cancel=threading.Event())

"""The warm child process: reused between calls, replaced after a cancel, errors relayed."""

from __future__ import annotations

import os
import threading
import time

import pytest

from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.session.interruptible import Cancelled, InterruptibleProcess


def _raise_table_error(message: str) -> None:
    raise ProfileTableError(message)


def _sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@pytest.fixture
def process():
    child = InterruptibleProcess()
    yield child
    child.close()


def test_calls_share_one_child_process(process):
    first = process.run(os.getpid, cancel=threading.Event())
    assert first != os.getpid()
    assert process.run(os.getpid, cancel=threading.Event()) == first  # warm: not respawned


def test_an_error_reaches_the_caller_and_the_child_stays(process):
    pid = process.run(os.getpid, cancel=threading.Event())
    with pytest.raises(ProfileTableError, match="column x"):
        process.run(_raise_table_error, "no column x", cancel=threading.Event())
    assert process.run(os.getpid, cancel=threading.Event()) == pid


def test_cancel_kills_the_child_and_the_next_call_gets_a_new_one(process):
    pid = process.run(os.getpid, cancel=threading.Event())
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        process.run(_sleep_then_pid, 60.0, cancel=cancel)
    assert time.monotonic() - started < 1.5  # 0.5 s until cancel, then killed at once
    assert not process.alive
    assert process.run(os.getpid, cancel=threading.Event()) not in (pid, os.getpid())


def test_close_ends_the_child(process):
    process.run(os.getpid, cancel=threading.Event())
    assert process.alive
    process.close()
    assert not process.alive

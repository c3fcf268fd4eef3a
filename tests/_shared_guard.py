"""Fail any test that reads the team's shared data folder without the ``shared`` mark.

A fresh clone has no ``../shared``; CI proves that the suite still passes without it by
rerunning the ``shared``-marked tests with the folder hidden. That proof only holds if no
other test reads it, so an audit hook (``sys.addaudithook``) watches every ``open``,
``os.listdir``, ``os.scandir`` and ``glob.glob`` of this process while a test without the
mark sets up and runs, and the test fails with the paths it read. Child processes are not
watched (a ``phenoscope`` subprocess reading ``../shared`` goes unseen).

Used as a pytest plugin: ``tests/conftest.py`` re-exports its hooks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Audit events whose first argument is the path read.
WATCHED = frozenset({"open", "os.listdir", "os.scandir", "glob.glob"})


def shared_folders() -> list[Path]:
    """``$PHENOSCOPE_SHARED`` (where tests look for the data) and ``../shared`` itself."""
    folders = [REPO.parent / "shared"]
    if os.environ.get("PHENOSCOPE_SHARED"):
        folders.append(Path(os.environ["PHENOSCOPE_SHARED"]))
    return folders


class SharedReadGuard:
    """Records reads under ``folders`` while watching; ``audit`` is the audit hook."""

    def __init__(self, folders: Iterable[Path]) -> None:
        roots = set()
        for folder in folders:
            roots.add(os.path.abspath(folder))
            roots.add(os.path.realpath(folder))  # the folder may be a link, or behind one
        self.roots = tuple(sorted(roots))
        self.watching = False
        self.reads: list[str] = []

    def audit(self, event: str, args: tuple) -> None:
        # called for every audited event of the process: return early and cheaply
        if not self.watching or event not in WATCHED or not args:
            return
        path = args[0]
        if path is None or isinstance(path, int):  # the current folder, a file descriptor
            return
        try:
            text = os.path.abspath(os.fsdecode(path))
        except TypeError:
            return
        for root in self.roots:
            if text == root or text.startswith(root + os.sep):
                self.reads.append(text)
                return

    def watch(self, on: bool) -> None:
        """Start (clearing earlier reads) or stop recording."""
        if on:
            self.reads.clear()
        self.watching = on

    def fail_if_read(self, nodeid: str) -> None:
        """``pytest.fail`` naming what the test read, if it read anything."""
        if self.reads:
            read = sorted(set(self.reads))
            shown = ", ".join(read[:3]) + (f" and {len(read) - 3} more" if len(read) > 3 else "")
            self.reads.clear()
            pytest.fail(
                f"{nodeid} read the shared data folder ({shown}) without the `shared` mark: "
                "take it through a fixture of conftest.SHARED_FIXTURES or mark the test "
                "`@pytest.mark.shared` (and let it skip when the folder is absent)",
                pytrace=False,
            )


#: The one guard of this process (an audit hook cannot be removed, so install it once).
GUARD = SharedReadGuard(shared_folders())
sys.addaudithook(GUARD.audit)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    GUARD.watch(item.get_closest_marker("shared") is None)
    try:
        return (yield)
    finally:
        GUARD.watch(False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield  # reads of the test's fixtures (setup) and of the test itself
    GUARD.fail_if_read(item.nodeid)
    return result

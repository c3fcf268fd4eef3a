"""The guard that keeps tests without the `shared` mark off ../shared (tests/_shared_guard.py)."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from _shared_guard import GUARD, SharedReadGuard

TESTS = Path(__file__).resolve().parent


def test_the_guard_records_opens_listings_and_globs_under_its_folders_only(tmp_path):
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    (shared / "data" / "table.csv").write_text("a\n1\n")
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_text("a\n1\n")
    guard = SharedReadGuard([shared])
    guard.watch(True)
    guard.audit("open", (str(shared / "data" / "table.csv"), "r", 0))
    guard.audit("os.listdir", (shared / "data",))
    guard.audit("os.scandir", (os.fsencode(shared),))
    guard.audit("glob.glob", (str(shared / "*"), False))
    guard.audit("open", (str(elsewhere), "r", 0))  # not under the folder
    guard.audit("open", (3, "r", 0))  # a file descriptor
    guard.audit("os.listdir", (None,))  # the current folder
    guard.audit("open", (str(tmp_path / "shared-not"), "r", 0))  # a sibling, same prefix
    assert guard.reads == [
        str(shared / "data" / "table.csv"),
        str(shared / "data"),
        str(shared),
        str(shared / "*"),
    ]
    guard.watch(False)
    guard.audit("open", (str(shared / "data" / "table.csv"), "r", 0))
    assert len(guard.reads) == 4  # not watching: nothing recorded
    with pytest.raises(pytest.fail.Exception, match="read the shared data folder"):
        guard.fail_if_read("tests/test_x.py::test_reader")
    assert guard.reads == []
    guard.fail_if_read("tests/test_x.py::test_reader")  # nothing read since: passes


def test_the_installed_hook_sees_real_reads_of_this_unmarked_test(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "a.txt").write_text("x")
    assert GUARD.watching  # this test has no `shared` mark
    roots = GUARD.roots
    GUARD.roots = (str(shared),)
    try:
        (shared / "a.txt").read_text()
        os.listdir(shared)
        list(os.scandir(shared))
        glob.glob(str(shared / "*.txt"))
        seen = list(GUARD.reads)
    finally:
        GUARD.roots = roots
        GUARD.reads.clear()  # or this test itself would fail
    assert str(shared / "a.txt") in seen and str(shared) in seen
    assert str(shared / "*.txt") in seen


def _suite(pytester: pytest.Pytester, shared: Path) -> None:
    """A suite of three tests in a fresh folder, with this project's guard as its plugin."""
    pytester.makeconftest('pytest_plugins = ["_shared_guard"]')
    pytester.makeini("[pytest]\nmarkers =\n    shared: reads the shared folder\n")
    pytester.makepyfile(
        test_readers=f"""
        import pytest
        from pathlib import Path

        SHARED = Path({str(shared)!r})

        def test_unmarked_reader():
            assert (SHARED / "table.csv").read_text() == "a"

        @pytest.mark.shared
        def test_marked_reader():
            assert (SHARED / "table.csv").read_text() == "a"

        def test_unmarked_listing():
            assert sorted(p.name for p in SHARED.iterdir()) == ["table.csv"]

        def test_unmarked_bystander(tmp_path):
            (tmp_path / "t.txt").write_text("b")
            assert (tmp_path / "t.txt").read_text() == "b"
        """
    )


def test_an_unmarked_test_that_reads_the_shared_folder_fails(pytester, tmp_path, monkeypatch):
    shared = tmp_path / "team-shared"
    shared.mkdir()
    (shared / "table.csv").write_text("a")
    _suite(pytester, shared)
    monkeypatch.setenv("PHENOSCOPE_SHARED", str(shared))
    python_path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", python_path)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_unmarked_reader*read the shared data folder*table.csv*without the `shared`*",
            "*test_unmarked_listing*read the shared data folder*team-shared*",
        ]
    )

"""A disk that fills up, or an output that turns read-only, mid-run: one line, exit 2, and
what earlier runs wrote stays whole."""

from __future__ import annotations

import errno
import gc
import os
import shutil
import subprocess
import time
import warnings
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cli_outcome import assert_fine, assert_refused, run_cli
from conftest import copy_compound_plate

# --qc off: on these 128 px fields QC leaves out every cell of A02 (all touch the field's
# edge), and a plate of one well is not normalised, so its table would fill the tiny disk
# already in the first run; what these tests check is the writing, not QC
FIRST = ["--wells", "A02,P10", "--features", "classical", "--no-progress", "--qc", "off"]
SECOND = ["--features", "both", "--no-progress", "--qc", "off"]  # every well, more bytes


@pytest.fixture
def plate(small_demo_project: Path, tmp_path: Path) -> Path:
    return copy_compound_plate(small_demo_project, tmp_path / "plate")


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 4 MB tmpfs (needs the right to mount; skipped without it)."""
    mount_point = tmp_path / "tiny-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN)")
    yield mount_point
    _unmount(mount_point)


def _holders(mount_point: Path) -> list[str]:
    """``pid: path`` of every open file under ``mount_point`` (any process's)."""
    held = []
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # the process or the descriptor went away meanwhile
        if target.startswith(str(mount_point)):
            held.append(f"{fd.parts[2]}: {target}")
    return held


def _unmount(mount_point: Path) -> None:
    """Unmount, waiting a little for files still closing (once in CI: "target is busy");
    if one stays open, detach the mount lazily and warn which process holds what."""
    gc.collect()  # an exception's frames may keep a file object alive
    for _ in range(10):
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode == 0:
            return
        time.sleep(0.5)
    holders = _holders(mount_point)
    subprocess.run(["umount", "--lazy", str(mount_point)], check=True)
    warnings.warn(f"{mount_point} stayed busy; open files: {holders or 'none found'}", stacklevel=1)


def _snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.glob("*.parquet")}


def _assert_no_partial_file(out: Path) -> None:
    for path in out.rglob("*.parquet"):
        if not path.name.startswith("."):
            pq.read_table(path)


def test_a_disk_that_fills_up(capsys, plate, tiny_disk):
    out = tiny_disk / "out"
    assert_fine(run_cli(["profile", plate, "--out", out, *FIRST], capsys))
    earlier = _snapshot(out)
    free = shutil.disk_usage(tiny_disk).free  # leave room for about one field, then run
    (tiny_disk / "other-files").write_bytes(bytes(max(free - 300_000, 0)))
    outcome = run_cli(["profile", plate, "--out", out, *SECOND], capsys)
    assert_refused(outcome, "No space left on device", out)
    assert _snapshot(out) == earlier
    _assert_no_partial_file(out)


@pytest.mark.parametrize(
    ("number", "reason"),
    [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system")],
    ids=["disk-full", "read-only"],
)
def test_an_output_that_cannot_be_written_midway(
    capsys, plate, tmp_path, monkeypatch, number, reason
):
    out = tmp_path / "out"
    assert_fine(run_cli(["profile", plate, "--out", out, *FIRST], capsys))
    earlier = _snapshot(out)
    original, writes = pq.write_table, []

    def failing_after_three(table, where, *args, **kwargs):
        writes.append(where)
        if len(writes) > 3:  # some fields are cached, then the disk is gone
            raise OSError(number, reason, str(where))
        return original(table, where, *args, **kwargs)

    monkeypatch.setattr(pq, "write_table", failing_after_three)
    assert_refused(run_cli(["profile", plate, "--out", out, *SECOND], capsys), reason, out)
    assert _snapshot(out) == earlier
    _assert_no_partial_file(out)
    monkeypatch.setattr(pq, "write_table", original)  # space again: the run resumes
    outcome = assert_fine(run_cli(["profile", plate, "--out", out, *SECOND], capsys))
    assert "3 resumed" in outcome.out
    assert len(pd.read_parquet(out / "well_profiles_vit.parquet")) == 12

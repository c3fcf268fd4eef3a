"""Run ``phenoscope`` like a user would and judge what the user sees.

In-process (``main([...])``) for speed: an exception that escapes ``main`` is a traceback the
user would see, so the test fails on it. A few cases also go through a real interpreter
(``run_console``) to check the console script's stderr itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from napari_phenoscope.cli import main


@dataclass(frozen=True)
class Outcome:
    """Exit code and the two streams of one ``phenoscope`` command."""

    command: str
    code: int
    out: str
    err: str


def run_cli(argv: list[object], capsys: pytest.CaptureFixture[str]) -> Outcome:
    """``phenoscope ARGV`` in this process."""
    capsys.readouterr()
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return Outcome(str(argv[0]), code, out, err)


def run_console(argv: list[object], cwd: Path | None = None) -> Outcome:
    """``phenoscope ARGV`` in a fresh interpreter (the console script's entry point)."""
    script = "import sys; from napari_phenoscope.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return Outcome(str(argv[0]), done.returncode, done.stdout, done.stderr)


def assert_refused(outcome: Outcome, *names: object) -> str:
    """Exit 2 with exactly one stderr line, ``phenoscope CMD: error: ...``, naming ``names``."""
    assert "Traceback" not in outcome.err, outcome.err
    lines = outcome.err.strip().splitlines()
    assert outcome.code == 2, (outcome.code, outcome.err)
    assert len(lines) == 1, outcome.err
    message = lines[0]
    assert message.startswith(f"phenoscope {outcome.command}: error: "), message
    for name in names:
        assert str(name) in message, (name, message)
    return message


def assert_fine(outcome: Outcome) -> Outcome:
    """Exit 0 and no traceback."""
    assert "Traceback" not in outcome.err, outcome.err
    assert outcome.code == 0, (outcome.code, outcome.err)
    return outcome

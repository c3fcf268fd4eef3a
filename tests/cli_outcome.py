"""Run ``phenoscope`` like a user would and judge what the user sees.

In-process (``main([...])``) for speed: an exception that escapes ``main`` is a traceback the
user would see, so the test fails on it. A few cases also go through a real interpreter
(``run_console``) to check the console script's stderr itself.
"""

from __future__ import annotations

import json
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
    try:
        code = main([str(arg) for arg in argv])
    except SystemExit as exit:  # argparse refusing an option
        code = exit.code if isinstance(exit.code, int) else 2
    out, err = capsys.readouterr()
    return _logged(Outcome(str(argv[0]), code, out, err))


def _logged(outcome: Outcome) -> Outcome:
    """Append the outcome to $PHENOSCOPE_CORPUS_LOG (JSON lines), the source of the table in
    docs/reliability.md (``python tests/bad_inputs/corpus_table.py LOG``)."""
    log = os.environ.get("PHENOSCOPE_CORPUS_LOG")
    if log:
        record = {
            "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
            "command": outcome.command,
            "code": outcome.code,
            "stderr": outcome.err.strip().splitlines()[-1:] if outcome.err.strip() else [],
        }
        with open(log, "a") as handle:
            handle.write(json.dumps(record) + "\n")
    return outcome


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
    return _logged(Outcome(str(argv[0]), done.returncode, done.stdout, done.stderr))


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

"""The ``phenoscope`` command: thin argument parsing over the library modules.

Each sub-command is a module named after its verb (``demo``, ``demo_data``, ``segment``,
``profile``, ``qc``, ``train``, ``evaluate``, ``explain``, ``tour``, ``view``, ``export``)
with an ``add`` function that declares its arguments and a ``run`` function that
imports the library lazily (so ``phenoscope --help`` stays fast) and calls it.
Errors a user can fix are printed as one line; the exit code is 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence

from napari_phenoscope.cli import (
    demo,
    demo_data,
    evaluate,
    explain,
    export,
    profile,
    qc,
    segment,
    tour,
    train,
    view,
)
from napari_phenoscope.cli._options import OneLineParser
from napari_phenoscope.errors import PhenoscopeError, PhenoscopeWarning

SubcommandAdder = Callable[[argparse._SubParsersAction], None]


def _build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="phenoscope",
        description="Visual image-based profiling of Cell Painting plates.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_subcommand in _SUBCOMMANDS:
        add_subcommand(subparsers)
    return parser


# the order of ``phenoscope --help``; a new verb adds its module here
_SUBCOMMANDS: list[SubcommandAdder] = [
    demo.add,
    profile.add,
    qc.add,
    demo_data.add,
    train.add,
    segment.add,
    tour.add,
    evaluate.add,
    view.add,
    export.add,
    explain.add,
]


def _one_line_warnings(command: str, show: Callable) -> Callable:
    """``showwarning`` that prints our warnings as one line, like errors, others as usual."""

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, PhenoscopeWarning):
            print(f"phenoscope {command}: warning: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return show_warning


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``phenoscope`` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(args.command, warnings.showwarning)
            return int(args.handler(args) or 0)
    except PhenoscopeError as error:
        print(f"phenoscope {args.command}: error: {_one_line(str(error))}", file=sys.stderr)
        return 2
    except OSError as error:  # a full disk, a read-only or vanished output folder
        where = f": {error.filename}" if error.filename else ""
        reason = error.strerror or _one_line(str(error))
        print(f"phenoscope {args.command}: error: {reason}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"phenoscope {args.command}: interrupted", file=sys.stderr)
        return 130


def _one_line(message: str) -> str:
    """Library messages may quote a multi-line parser error: keep the CLI's one line."""
    return " ".join(message.split())

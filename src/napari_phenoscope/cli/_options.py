"""What the verbs share: a one-line-error parser, argument types, the plate input options."""

from __future__ import annotations

import argparse


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (``phenoscope VERB: error: ...``), exit 2.

    argparse prints the whole usage before its message; the rest of the CLI promises one
    line naming what is wrong, so parsing errors keep that promise too.
    """

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (batch sizes, epochs, null sizes)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def add_input_options(parser: argparse.ArgumentParser) -> None:
    """``--illum DIR`` and ``--pixel-size UM`` (docs/layouts/scale-and-illum.md)."""
    parser.add_argument(
        "--illum",
        metavar="DIR",
        help="CellProfiler illumination functions (<plate>_Illum<CH>.npy) to divide by",
    )
    parser.add_argument(
        "--pixel-size",
        type=float,
        metavar="UM",
        help="microns per pixel (default: from the image metadata, when it has one)",
    )

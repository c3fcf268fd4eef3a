"""Input options shared by the verbs that read plates (``profile``, ``segment``)."""

from __future__ import annotations

import argparse


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

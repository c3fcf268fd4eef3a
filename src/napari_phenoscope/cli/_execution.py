"""``--scheduler ADDRESS`` / ``--workers N``: where ``profile`` and ``demo`` run their fields."""

from __future__ import annotations

import argparse


def add_execution_options(parser: argparse.ArgumentParser, default: str) -> None:
    """Add the mutually exclusive ``--scheduler`` and ``--workers`` options."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the fields on an existing Dask scheduler (tcp://host:8786)",
    )
    where.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=f"run the fields on a local Dask cluster of N processes (default: {default})",
    )

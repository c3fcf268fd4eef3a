"""The ``phenoscope`` command: thin argument parsing over the library modules.

Each sub-command has an ``_add_<name>`` function that declares its arguments and a
``_run_<name>`` function that imports its module lazily (so ``phenoscope --help`` stays
fast) and calls it. Errors a user can fix are printed as one line; the exit code is 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from napari_phenoscope.errors import PhenoscopeError

SubcommandAdder = Callable[[argparse._SubParsersAction], None]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phenoscope",
        description="Visual image-based profiling of Cell Painting plates.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_subcommand in _SUBCOMMANDS:
        add_subcommand(subparsers)
    return parser


# --- sub-commands (each helper adds its own pair of functions and registers the adder) ---


_SUBCOMMANDS: list[SubcommandAdder] = []


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``phenoscope`` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except PhenoscopeError as error:
        print(f"phenoscope {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"phenoscope {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

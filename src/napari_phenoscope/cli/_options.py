"""What the verbs share: a one-line-error parser, argument types, the plate input options."""

from __future__ import annotations

import argparse
import sys


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


def add_field_options(parser: argparse.ArgumentParser) -> None:
    """Which fields a plate verb reads: ``--wells``, ``--channel-map``, ``--missing-channels``."""
    parser.add_argument("--wells", metavar="A01,B02", help="only these wells")
    parser.add_argument(
        "--channel-map",
        metavar="2=ER,3=AGP,...",
        help="Phenix channel numbers, or OME-Zarr channel labels (Hoechst=DNA,...)",
    )
    parser.add_argument(
        "--missing-channels",
        choices=("error", "zeros"),
        default="error",
        help="a field lacking a channel file: stop (default) or fill it with zeros",
    )


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


def add_remote_options(parser: argparse.ArgumentParser) -> None:
    """``--cache-dir``, ``--cache-size``, ``--clear-cache``: the cache of s3:// plates."""
    group = parser.add_argument_group("s3:// plates (docs/layouts/gallery.md)")
    group.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="where fetched s3:// images are kept (default: $PHENOSCOPE_S3_CACHE or "
        "~/.cache/napari-phenoscope/s3)",
    )
    group.add_argument(
        "--cache-size",
        type=float,
        metavar="GB",
        help="size limit of that cache; least recently used images go first (default: 20)",
    )
    group.add_argument(
        "--clear-cache", action="store_true", help="empty that cache before starting"
    )


def apply_remote_options(args: argparse.Namespace) -> None:
    """Set the s3:// cache for this run (and the Dask workers it starts); clear it if asked."""
    from napari_phenoscope.io import configure_cache, object_cache

    configure_cache(args.cache_dir, args.cache_size)
    if args.clear_cache:
        cache = object_cache()
        freed = cache.clear()
        print(f"cleared {freed / 1e6:.1f} MB from {cache.root}", file=sys.stderr)

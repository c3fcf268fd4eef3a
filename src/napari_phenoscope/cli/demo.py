"""``phenoscope demo``: the main job on the demo plates, then napari."""

from __future__ import annotations

import argparse

from napari_phenoscope.cli._execution import add_execution_options
from napari_phenoscope.cli._options import positive_int


def add(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the main job on the demo plates: profile, mAP, BI-2536 verdict; then napari",
        description="Render the demo plates (cached), segment and profile every cell with the "
        "bundled ViT and classical features, compute replicate and compound-gene mAP, rank "
        "CRISPR knockouts for BI-2536, print a summary, and (with a display) open napari.",
    )
    parser.add_argument(
        "--out", default="phenoscope-out/demo", metavar="OUT_DIR", help="output folder"
    )
    parser.add_argument("--features", default="vit,classical", help="feature sets, comma-separated")
    parser.add_argument(
        "--null-size", type=positive_int, default=2000, help="permutation null size"
    )
    add_execution_options(parser, default="one per core, up to 4")
    parser.add_argument("--no-viewer", action="store_true", help="never open napari")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from napari_phenoscope.app.demo_viewer import display_available
    from napari_phenoscope.demo.job import format_demo_summary, run_demo

    summary = run_demo(
        args.out,
        features=[f.strip() for f in args.features.split(",") if f.strip()],
        null_size=args.null_size,
        progress=not args.no_progress,
        workers=_workers(args),
        scheduler=args.scheduler,
    )
    print(format_demo_summary(summary))
    if not args.no_viewer and display_available():
        from napari_phenoscope.app.demo_viewer import open_demo_viewer

        open_demo_viewer(summary)
    return 0


def _workers(args: argparse.Namespace) -> int | None:
    """``--workers`` if given; with neither option, one local worker per core (up to 4)."""
    from napari_phenoscope.profiling.execute import default_workers

    if args.workers is not None or args.scheduler is not None:
        return args.workers
    return default_workers()

"""``phenoscope tour``: drive napari through the main use case, screenshot each step."""

from __future__ import annotations

import argparse


def add(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tour",
        help="drive napari through the main use case on the demo plates, screenshot each step",
        description="Open the plate, profile a few wells, open the BI-2536 well, inspect a "
        "cell's MAE reconstruction and attention, show the profile map, query similar "
        "perturbations and compute compound-gene mAP in a real napari viewer, saving a "
        "screenshot of each step (run under xvfb-run without a display).",
    )
    parser.add_argument(
        "plate", nargs="?", metavar="PLATE_DIR", help="project folder (default: the demo plates)"
    )
    parser.add_argument("--screenshots", required=True, metavar="DIR", help="folder for PNGs")
    parser.add_argument(
        "--profiles", metavar="OUT_DIR", help="profile output, reused (default: in the cache)"
    )
    parser.add_argument("--model", metavar="PATH", help="MAE weights (default: bundled)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # lazy: the tour loads pandas and the session; phenoscope --help stays light
    from napari_phenoscope.app.tour import run_tour

    steps = run_tour(args.plate, args.screenshots, args.profiles, args.device, args.model)
    print(f"{len(steps)} screenshots in {args.screenshots}")
    return 0

"""``phenoscope view``: napari with every dock on profile tables, with or without images."""

from __future__ import annotations

import argparse

from napari_phenoscope.cli._options import add_remote_options, apply_remote_options
from napari_phenoscope.errors import PhenoscopeError


def add(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "view",
        help="open profile tables (pycytominer CSV / Parquet) in napari, with or without images",
        description="Open napari with the Phenoscope docks and each PROFILES table as a "
        "feature set: Profile map, Similar perturbations and mAP work on them. With "
        "--images, the plate opens too and clicking a point shows its well or field.",
    )
    parser.add_argument(
        "profiles", nargs="+", metavar="PROFILES", help="Parquet, CSV or CSV.gz tables"
    )
    parser.add_argument(
        "--images",
        metavar="PLATE_DIR",
        help="the plates the profiles are of (a folder, load_data.csv or s3:// URL)",
    )
    parser.add_argument(
        "--name", action="append", default=[], metavar="NAME", help="feature-set name per table"
    )
    parser.add_argument("--channel-map", metavar="2=ER,3=AGP,...", help="Phenix channel numbers")
    for what, example in (
        ("target", "Metadata_target"),
        ("moa", "Metadata_moa"),
        ("id", "Metadata_broad_sample"),
    ):
        parser.add_argument(
            f"--{what}-column",
            metavar="COLUMN",
            help=f"the column with each perturbation's {what} (default: found, e.g. {example})",
        )
    add_remote_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    apply_remote_options(args)
    from napari_phenoscope.app.demo_viewer import display_available
    from napari_phenoscope.io.profile_tables import describe, load_profile_table

    for path in args.profiles:  # fail on a bad table before a window opens
        print(describe(load_profile_table(path)))
    if not display_available():
        raise PhenoscopeError("no display: run phenoscope view on a desktop (or under xvfb-run)")
    # lazy: pandas, and napari once a window opens; phenoscope --help stays fast
    from napari_phenoscope.app.view import view_profiles

    chosen = {"target": args.target_column, "moa": args.moa_column, "identifier": args.id_column}
    view_profiles(args.profiles, args.images, args.name, args.channel_map, chosen)
    return 0

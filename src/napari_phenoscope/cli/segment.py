"""``phenoscope segment``: nuclei and cells of a plate -> label images + per-cell Parquet."""

from __future__ import annotations

import argparse

from napari_phenoscope.cli._options import (
    add_input_options,
    add_remote_options,
    apply_remote_options,
)


def add(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "segment",
        help="segment nuclei and cells of a plate -> label images + per-cell Parquet",
        description="Segment every field: writes OUT/labels/<plate>/<well>_s<site>_nuclei.tiff "
        "and _cells.tiff, and OUT/cells.parquet (one row per cell: plate, well, site, object "
        "number, nucleus centre in pixels, nucleus and cell area).",
    )
    parser.add_argument(
        "plate",
        metavar="PLATE",
        help="project or plate folder, Gallery folder, load_data.csv(.gz) or plate.zarr",
    )
    parser.add_argument("--out", required=True, metavar="OUT_DIR", help="output folder")
    parser.add_argument("--wells", metavar="A01,B02", help="only these wells")
    parser.add_argument("--channel-map", metavar="2=ER,3=AGP,...", help="Phenix channel numbers")
    parser.add_argument("--diameter", type=float, help="nucleus diameter, px (default: estimated)")
    parser.add_argument(
        "--diameter-um", type=float, help="nucleus diameter in um (needs the pixel size)"
    )
    add_input_options(parser)
    add_remote_options(parser)
    parser.add_argument(
        "--method", choices=("classical", "cellpose"), default="classical", help="(classical)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    apply_remote_options(args)
    # lazy: pandas and scikit-image (~1.5 s); phenoscope --help stays fast
    import pandas as pd

    from napari_phenoscope.segmentation.batch import segment_plate

    path = segment_plate(
        args.plate,
        args.out,
        wells=args.wells.split(",") if args.wells else None,
        progress=not args.no_progress,
        channel_map=args.channel_map,
        diameter=args.diameter,
        method=args.method,
        illum=args.illum,
        pixel_size=args.pixel_size,
        diameter_um=args.diameter_um,
    )
    cells = pd.read_parquet(path)
    n_fields = cells.groupby(["Metadata_Plate", "Metadata_Well", "Metadata_Site"]).ngroups
    print(f"{len(cells)} cells in {n_fields} fields with cells -> {path}")
    return 0

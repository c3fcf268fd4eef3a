"""``phenoscope demo-data``: render the demo plates as a CPJUMP1-layout project."""

from __future__ import annotations

import argparse


def add(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo-data",
        help="render the demo plates (JUMP-Target-1 compound, CRISPR, ORF) as a project",
        description="Render deterministic Cell Painting-like compound, CRISPR and ORF plates "
        "laid out with the real JUMP-Target-1 plate maps, in the CPJUMP1 folder layout "
        "(images/, load_data_csv/, metadata/), with ground truth in ground_truth/.",
    )
    parser.add_argument("out", metavar="OUT_DIR", help="project folder to write")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (default: 0)")
    parser.add_argument("--wells", type=int, default=64, help="wells per plate (default: 64)")
    parser.add_argument("--sites", type=int, default=2, help="fields per well (default: 2)")
    parser.add_argument("--size", type=int, default=256, help="field side in px (default: 256)")
    parser.add_argument(
        "--replicates", type=int, default=2, help="replicate plates per modality (default: 2)"
    )
    parser.add_argument(
        "--variation",
        choices=("train", "heldout"),
        help="domain randomisation: a random look per field (train) or one look unlike any "
        "training field (heldout); default: the demo's own look",
    )
    parser.add_argument(
        "--defects",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="fraction of fields defocused, covered in saturating debris or empty, seeded; "
        "the truth in ground_truth/qc_truth.csv (default: 0, clean plates)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # lazy: pulls pandas and tifffile (~1 s); phenoscope --help stays fast
    from napari_phenoscope.demo.project import write_demo_plates

    manifest = write_demo_plates(
        args.out,
        seed=args.seed,
        n_wells=args.wells,
        n_sites=args.sites,
        size=args.size,
        n_replicates=args.replicates,
        progress=not args.no_progress,
        variation=args.variation,
        defects=args.defects,
    )
    barcodes = ", ".join(plate.barcode for plate in manifest.plates)
    print(f"{len(manifest.plates)} plates ({barcodes}) -> {manifest.root}")
    return 0

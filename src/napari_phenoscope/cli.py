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


def _add_profile(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="plates -> single-cell and well-level profiles (Parquet), resumable",
        description="Read, segment, embed / measure every field, then write "
        "OUT/single_cells.parquet and OUT/well_profiles_<features>.parquet. A rerun "
        "resumes: fields cached in OUT/fields are not computed again.",
    )
    parser.add_argument("plates", nargs="+", metavar="PLATE_DIR", help="project or plate folder")
    parser.add_argument("--out", required=True, metavar="OUT_DIR", help="output folder")
    parser.add_argument(
        "--features", choices=("vit", "classical", "both"), default="vit", help="feature set"
    )
    parser.add_argument("--model", metavar="PATH", help="encoder weights (default: bundled)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--wells", metavar="A01,B02", help="only these wells")
    parser.add_argument("--channel-map", metavar="2=ER,3=AGP,...", help="Phenix channel numbers")
    parser.add_argument(
        "--missing-channels",
        choices=("error", "zeros"),
        default="error",
        help="a field lacking a channel file: stop (default) or fill it with zeros",
    )
    parser.add_argument("--batch-size", type=int, default=64, help="crops per encoder batch")
    _add_execution(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=_run_profile)


def _add_execution(parser: argparse.ArgumentParser, default: str = "in this process") -> None:
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


def _run_profile(args: argparse.Namespace) -> int:
    from napari_phenoscope.pipeline import profile_plates

    outputs = profile_plates(
        args.plates,
        args.out,
        features=args.features,
        model_path=args.model,
        device=args.device,
        wells=args.wells.split(",") if args.wells else None,
        progress=not args.no_progress,
        channel_map=args.channel_map,
        missing=args.missing_channels,
        batch_size=args.batch_size,
        scheduler=args.scheduler,
        workers=args.workers,
    )
    resumed = outputs.n_fields - outputs.n_fields_computed
    print(
        f"{outputs.n_cells} cells from {outputs.n_fields} fields "
        f"({outputs.n_fields_computed} computed, {resumed} resumed) -> {outputs.single_cells}"
    )
    for name, path in outputs.well_profiles.items():
        print(f"well profiles ({name}): {path}")
    return 0


def _add_demo_data(subparsers: argparse._SubParsersAction) -> None:
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
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=_run_demo_data)


def _run_demo_data(args: argparse.Namespace) -> int:
    from napari_phenoscope.demo import write_demo_plates

    manifest = write_demo_plates(
        args.out,
        seed=args.seed,
        n_wells=args.wells,
        n_sites=args.sites,
        size=args.size,
        n_replicates=args.replicates,
        progress=not args.no_progress,
    )
    barcodes = ", ".join(plate.barcode for plate in manifest.plates)
    print(f"{len(manifest.plates)} plates ({barcodes}) -> {manifest.root}")
    return 0


def _add_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="self-supervised training (MAE or DINO) of the ViT encoder on plates",
        description="Segment and crop every cell of the plates (cached beside OUT), then "
        "train the five-channel ViT with MAE or DINO. Writes OUT (safetensors + .sha256), "
        "OUT's .losses.csv and a checkpoint (.ckpt.safetensors) to --resume from.",
    )
    parser.add_argument("plates", nargs="+", metavar="PLATE_DIR", help="project or plate folder")
    parser.add_argument("--method", choices=("mae", "dino"), default="mae", help="(default: mae)")
    parser.add_argument("--out", required=True, metavar="MODEL.safetensors", help="weights file")
    parser.add_argument(
        "--epochs", type=int, default=10, help="passes over the cells (default: 10)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--resume", metavar="CKPT", help="checkpoint to continue from")
    parser.add_argument(
        "--init", metavar="MODEL|bundled", help="fine-tune: start from these weights"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="crops per step (default: 64)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default: 1e-3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (default: 0)")
    parser.add_argument("--crop-size", type=int, default=64, help="crop side in px (default: 64)")
    parser.add_argument(
        "--checkpoint-every", type=int, default=500, help="steps between checkpoints"
    )
    parser.add_argument("--max-fields", type=int, help="use only the first N fields")
    parser.add_argument("--max-minutes", type=float, help="stop (resumably) after N minutes")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: all)")
    parser.add_argument("--channel-map", metavar="2=ER,3=AGP,...", help="Phenix channel numbers")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.set_defaults(handler=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from napari_phenoscope.train import run_from_cli

    return run_from_cli(args)


def _add_segment(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "segment",
        help="segment nuclei and cells of a plate -> label images + per-cell Parquet",
        description="Segment every field: writes OUT/labels/<plate>/<well>_s<site>_nuclei.tiff "
        "and _cells.tiff, and OUT/cells.parquet (one row per cell: plate, well, site, object "
        "number, nucleus centre in pixels, nucleus and cell area).",
    )
    parser.add_argument("plate", metavar="PLATE_DIR", help="project or plate folder")
    parser.add_argument("--out", required=True, metavar="OUT_DIR", help="output folder")
    parser.add_argument("--wells", metavar="A01,B02", help="only these wells")
    parser.add_argument("--channel-map", metavar="2=ER,3=AGP,...", help="Phenix channel numbers")
    parser.add_argument("--diameter", type=float, help="nucleus diameter, px (default: estimated)")
    parser.add_argument(
        "--method", choices=("classical", "cellpose"), default="classical", help="(classical)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=_run_segment)


def _run_segment(args: argparse.Namespace) -> int:
    import pandas as pd

    from napari_phenoscope.segment_batch import segment_plate

    path = segment_plate(
        args.plate,
        args.out,
        wells=args.wells.split(",") if args.wells else None,
        progress=not args.no_progress,
        channel_map=args.channel_map,
        diameter=args.diameter,
        method=args.method,
    )
    cells = pd.read_parquet(path)
    n_fields = cells.groupby(["Metadata_Plate", "Metadata_Well", "Metadata_Site"]).ngroups
    print(f"{len(cells)} cells in {n_fields} fields with cells -> {path}")
    return 0


def _add_tour(subparsers: argparse._SubParsersAction) -> None:
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
    parser.set_defaults(handler=_run_tour)


def _run_tour(args: argparse.Namespace) -> int:
    from napari_phenoscope.tour import run_tour

    steps = run_tour(args.plate, args.screenshots, args.profiles, args.device, args.model)
    print(f"{len(steps)} screenshots in {args.screenshots}")
    return 0


def _add_evaluate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="CPJUMP1 retrieval task on a well-level profile table: mAP, fraction retrieved",
        description="Compute copairs-exact AP, mAP and permutation p-values for one CPJUMP1 "
        "task, print a summary per modality and cell type, and write the per-query table.",
    )
    parser.add_argument("profiles", metavar="PROFILES", help="Parquet, CSV or CSV.gz table")
    parser.add_argument(
        "--task",
        required=True,
        choices=("replicate", "sister", "compound-gene", "crispr-orf"),
        help="which retrieval task",
    )
    parser.add_argument("--null-size", type=int, default=10000, help="null size (10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the nulls (0)")
    parser.add_argument("--out", metavar="CSV", help="write the per-query table here")
    parser.set_defaults(handler=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from napari_phenoscope.tasks import evaluate_file

    print(evaluate_file(args.profiles, args.task, args.null_size, args.seed, args.out))
    return 0


def _add_demo(subparsers: argparse._SubParsersAction) -> None:
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
    parser.add_argument("--null-size", type=int, default=2000, help="permutation null size")
    _add_execution(parser, default="one per core, up to 4")
    parser.add_argument("--no-viewer", action="store_true", help="never open napari")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from napari_phenoscope.quickstart import display_available, format_demo_summary, run_demo

    summary = run_demo(
        args.out,
        features=[f.strip() for f in args.features.split(",") if f.strip()],
        null_size=args.null_size,
        progress=not args.no_progress,
        workers=_demo_workers(args),
        scheduler=args.scheduler,
    )
    print(format_demo_summary(summary))
    if not args.no_viewer and display_available():
        from napari_phenoscope.quickstart import open_demo_viewer

        open_demo_viewer(summary)
    return 0


def _demo_workers(args: argparse.Namespace) -> int | None:
    from napari_phenoscope.profiling.execute import default_workers

    if args.workers is not None or args.scheduler is not None:
        return args.workers
    return default_workers()


_SUBCOMMANDS: list[SubcommandAdder] = [
    _add_demo,
    _add_profile,
    _add_demo_data,
    _add_train,
    _add_segment,
    _add_tour,
    _add_evaluate,
]


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

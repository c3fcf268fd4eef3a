"""``phenoscope profile``: plates -> single-cell and well profiles (Parquet), resumable."""

from __future__ import annotations

import argparse

from napari_phenoscope.cli._execution import add_execution_options
from napari_phenoscope.cli._options import (
    add_field_options,
    add_input_options,
    add_remote_options,
    apply_remote_options,
    positive_int,
)
from napari_phenoscope.cli.qc import add_qc_threshold_option


def add(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="plates -> single-cell and well-level profiles (Parquet), resumable",
        description="Read, segment, embed / measure every field, then write "
        "OUT/single_cells.parquet and OUT/well_profiles_<features>.parquet. A rerun "
        "resumes: fields cached in OUT/fields are not computed again.",
    )
    parser.add_argument(
        "plates",
        nargs="+",
        metavar="PLATE",
        help="project or plate folder, Gallery folder, load_data.csv(.gz) or plate.zarr",
    )
    parser.add_argument("--out", required=True, metavar="OUT_DIR", help="output folder")
    parser.add_argument(
        "--features", choices=("vit", "classical", "both"), default="vit", help="feature set"
    )
    parser.add_argument("--model", metavar="PATH", help="encoder weights (default: bundled)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    add_field_options(parser)
    parser.add_argument(
        "--batch-size", type=positive_int, default=64, help="crops per encoder batch"
    )
    add_execution_options(parser, default="in this process")
    add_input_options(parser)
    add_remote_options(parser)
    parser.add_argument(
        "--metadata",
        metavar="TABLE",
        help="well metadata: a CSV/TSV/Parquet table with Metadata_Plate and Metadata_Well, "
        "or a folder of JUMP metadata tables",
    )
    parser.add_argument(
        "--negcon", metavar="COLUMN=VALUE", help="the negative-control wells (e.g. pert_iname=DMSO)"
    )
    parser.add_argument(
        "--labels",
        metavar="SEG_DIR",
        help="profile the cells of these label images instead of segmenting: "
        "SEG_DIR/labels/<plate>/<well>_s<site>_cells.tiff (and optional _nuclei.tiff), "
        "as `phenoscope segment --out SEG_DIR` writes them (docs/segmentation.md)",
    )
    parser.add_argument(
        "--missing-labels",
        choices=("error", "skip"),
        default="error",
        help="with --labels, a field without cell labels: stop (default) or leave it out",
    )
    parser.add_argument(
        "--qc",
        choices=("off", "flag", "exclude"),
        default="exclude",
        help="quality control: leave failed fields and flagged cells out of the well "
        "profiles (exclude, default), keep them with QC columns (flag), or none (off); "
        "writes OUT/qc_fields.csv and OUT/qc_cells.parquet (docs/qc.md)",
    )
    add_qc_threshold_option(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    apply_remote_options(args)
    from napari_phenoscope.profiling.pipeline import profile_plates

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
        metadata=args.metadata,
        negcon=args.negcon,
        illum=args.illum,
        pixel_size=args.pixel_size,
        labels=args.labels,
        missing_labels=args.missing_labels,
        qc=args.qc,
        qc_thresholds=args.qc_threshold,
    )
    resumed = outputs.n_fields - outputs.n_fields_computed
    print(
        f"{outputs.n_cells} cells from {outputs.n_fields} fields "
        f"({outputs.n_fields_computed} computed, {resumed} resumed) -> {outputs.single_cells}"
    )
    if outputs.n_cells_profiled is not None:
        _print_qc_summary(outputs)
    for name, path in outputs.well_profiles.items():
        print(f"well profiles ({name}): {path}")
    return 0


def _print_qc_summary(outputs) -> None:
    # lazy: pandas and qc (~1 s); phenoscope --help stays fast
    import pandas as pd

    from napari_phenoscope.qc import QC_FIELDS_NAME, QC_PASS

    fields = pd.read_csv(outputs.single_cells.parent / QC_FIELDS_NAME)
    print(
        f"QC: {int((~fields[QC_PASS]).sum())} of {len(fields)} fields failed; "
        f"{outputs.n_cells_profiled} of {outputs.n_cells} cells in the well profiles "
        f"-> {outputs.single_cells.parent / QC_FIELDS_NAME}"
    )

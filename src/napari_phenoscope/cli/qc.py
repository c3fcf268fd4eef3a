"""``phenoscope qc``: image-quality measures per field, pass / fail, flagged cells."""

from __future__ import annotations

import argparse

from napari_phenoscope.cli._options import (
    OneLineParser,
    add_field_options,
    add_input_options,
    add_remote_options,
    apply_remote_options,
    positive_int,
)


def add_qc_threshold_option(parser: argparse.ArgumentParser) -> None:
    """``--qc-threshold MEASURE=Z`` (repeatable): override a field test's robust z limit."""
    parser.add_argument(
        "--qc-threshold",
        action="append",
        default=[],
        metavar="MEASURE=Z",
        help="robust z limit of a field test, negative failing low values "
        "(ImageQuality_PowerLogLogSlope_DNA=-4, Count_Cells=-3, PercentMaximal_AGP=off); "
        "repeatable (docs/qc.md)",
    )


def add(subparsers: argparse._SubParsersAction) -> None:
    parser: OneLineParser = subparsers.add_parser(
        "qc",
        help="quality control: blurred, saturated and empty fields, outlier cells",
        description="Measure every field (CellProfiler MeasureImageQuality: PowerLogLogSlope, "
        "PercentMaximal, intensities; cell count), judge it against its plate's fields "
        "(robust z-scores), flag outlier cells, and write OUT/qc_fields.csv and "
        "OUT/qc_cells.parquet.",
    )
    parser.add_argument(
        "plates",
        nargs="+",
        metavar="PLATE",
        help="project or plate folder, Gallery folder, load_data.csv(.gz) or plate.zarr",
    )
    parser.add_argument("--out", required=True, metavar="OUT_DIR", help="output folder")
    add_field_options(parser)
    add_qc_threshold_option(parser)
    parser.add_argument(
        "--min-good-fields",
        type=positive_int,
        default=1,
        metavar="N",
        help="list the wells left with fewer than N good fields (default: 1)",
    )
    add_input_options(parser)
    add_remote_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    apply_remote_options(args)
    # lazy: dask, pandas, scikit-image; phenoscope --help stays fast
    from napari_phenoscope.io import resolve_pixel_size
    from napari_phenoscope.profiling.pipeline import index_plates
    from napari_phenoscope.qc import (
        QC_CELLS_NAME,
        QC_PASS,
        judge_plates,
        summarise_fields,
        write_qc_tables,
    )
    from napari_phenoscope.qc.run import measure_fields

    fields = index_plates(
        args.plates,
        channel_map=args.channel_map,
        wells=args.wells.split(",") if args.wells else None,
        illum=args.illum,
    )
    field_measures, cell_measures = measure_fields(
        fields,
        pixel_size=resolve_pixel_size(fields, args.pixel_size),
        missing=args.missing_channels,
        progress=not args.no_progress,
    )
    judged_fields, judged_cells = judge_plates(field_measures, cell_measures, args.qc_threshold)
    path = write_qc_tables(args.out, judged_fields, judged_cells)
    for line in summarise_fields(judged_fields, args.min_good_fields):
        print(line)
    flagged = int((~judged_cells[QC_PASS]).sum())
    print(f"{len(judged_cells)} cells, {flagged} flagged -> {path}, {path.parent / QC_CELLS_NAME}")
    return 0

"""``phenoscope explain``: why a query matches one perturbation, as a figure and CSV tables."""

from __future__ import annotations

import argparse


def add(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="why QUERY matches MATCH and not a contrast: cells, features in words, how sure",
        description="Explain one retrieval from phenoscope profile's output, against a "
        "contrast: single cells of the query, the match and the contrast in three columns "
        "and of the negative controls (one contrast for all), the feature groups in words "
        "with how far each side moves from the controls, the ViT similarity with each stain "
        "hidden, and the similarity, rank and null p of both feature sets. Writes FIG at "
        "slide size (.png, .svg or .pdf) and FIG_<table>.csv beside it. QUERY, MATCH and "
        "--versus: a name (BI-2536), modality:name (crispr:PLK1) or a broad sample id.",
    )
    parser.add_argument("profiles", metavar="PROFILES", help="phenoscope profile's OUT_DIR")
    parser.add_argument("query", metavar="QUERY", help="e.g. BI-2536")
    parser.add_argument("match", metavar="MATCH", help="e.g. crispr:PLK1")
    parser.add_argument(
        "--versus",
        metavar="CONTRAST",
        help="the contrast, e.g. crispr:BRD4 (default: the query's other annotated target, "
        "else the best-ranked non-target); none: no contrast",
    )
    parser.add_argument("--out", required=True, metavar="FIG.png", help="figure (.png, .svg, .pdf)")
    parser.add_argument(
        "--images", nargs="+", metavar="PLATE_DIR", help="the profiled plates, to show cells"
    )
    parser.add_argument("--model", metavar="PATH", help="the ViT of the profiles (bundled)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (cpu)")
    parser.add_argument("--cells", type=int, default=4, help="cells per row (4)")
    parser.add_argument("--null-size", type=int, default=1000, help="random sets (1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every draw (0)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from napari_phenoscope.profiling.outputs import read_pipeline_output
    from napari_phenoscope.similarity.comparison import compare
    from napari_phenoscope.similarity.comparison_figure import (
        feature_rows,
        figure_path,
        write_comparison,
    )

    figure_path(args.out)  # a wrong suffix fails before the work
    output = read_pipeline_output(args.profiles, need="well_profiles", cell_columns="profiled")
    profiles, cells = output.well_profiles, output.cells
    fields = encoder = None
    device = args.device
    if args.images:
        from napari_phenoscope.profiling.pipeline import index_plates

        fields = index_plates(args.images)
        if "vit" in profiles and cells is not None:
            from napari_phenoscope.models import load_encoder, resolve_device

            device = str(resolve_device(device))
            encoder = load_encoder(args.model, device=device)
    comparison = compare(
        profiles,
        args.query,
        args.match,
        cells=cells,
        fields=fields,
        encoder=encoder,
        n_cells=args.cells,
        null_size=args.null_size,
        seed=args.seed,
        device=device,
        versus="" if args.versus == "none" else args.versus,
    )
    written = write_comparison(comparison, args.out)
    for record in comparison.summary().to_dict("records"):
        print(
            f"{record['feature set']}: {record['query']} vs {record['match']} ({record['side']}): "
            f"similarity {record['similarity']:+.3f}, rank {record['rank']} of "
            f"{record['n ranked']}, null p {record['p value']:.3g}"
        )
    for sentence in feature_rows(comparison).get("sentence", []):
        print(f"  {sentence}")
    for note in comparison.notes:
        print(f"not shown: {note}")
    print(f"wrote {', '.join(str(path) for path in written)}")
    return 0

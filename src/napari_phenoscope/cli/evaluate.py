"""``phenoscope evaluate``: a CPJUMP1 retrieval task on a well-level profile table."""

from __future__ import annotations

import argparse


def add(subparsers: argparse._SubParsersAction) -> None:
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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from napari_phenoscope.evaluation.tasks import evaluate_file

    print(evaluate_file(args.profiles, args.task, args.null_size, args.seed, args.out))
    return 0

"""``phenoscope evaluate``: retrieval mAP on a profile table, CPJUMP1 presets or copairs rules."""

from __future__ import annotations

import argparse

from napari_phenoscope.cli._options import positive_int
from napari_phenoscope.errors import ProfileTableError

_RULES = ("pos_sameby", "pos_diffby", "neg_sameby", "neg_diffby")


def add(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="retrieval mAP on a profile table: a CPJUMP1 task or copairs' own pair rules",
        description="Compute copairs-exact AP, mAP and permutation p-values, either for one "
        "CPJUMP1 task (--task) or for pair rules in copairs' vocabulary (--pos-sameby ...; "
        "columns comma-separated or the flag repeated), print a summary and write the "
        "per-query table. Works on any pycytominer-shaped table, well-level or single-cell.",
        epilog="examples: phenoscope evaluate wells.csv.gz --pos-sameby Metadata_broad_sample "
        "--reference Metadata_control_type=negcon --neg-sameby Metadata_Plate | "
        "phenoscope evaluate consensus.parquet --multilabel Metadata_target "
        "--pos-diffby Metadata_broad_sample",
    )
    parser.add_argument("profiles", metavar="PROFILES", help="Parquet, CSV or CSV.gz table")
    parser.add_argument(
        "--task",
        choices=("replicate", "sister", "compound-gene", "crispr-orf"),
        help="a CPJUMP1 retrieval task (instead of pair rules)",
    )
    for rule in _RULES:
        parser.add_argument(
            f"--{rule.replace('_', '-')}",
            action="append",
            metavar="COL[,COL]",
            help=f"copairs' {rule}",
        )
    parser.add_argument(
        "--reference",
        metavar="COL=VALUE",
        help="replicate vs reference: rank each group against the rows with COL == VALUE only",
    )
    parser.add_argument(
        "--multilabel", metavar="COL", help="a column of label lists or '|'-separated labels"
    )
    parser.add_argument(
        "--map-by", action="append", metavar="COL[,COL]", help="groups of the mAP (pos-sameby)"
    )
    parser.add_argument(
        "--drop-missing",
        action="store_true",
        help="drop rows missing a value in a rule column (default: refuse them)",
    )
    parser.add_argument("--null-size", type=positive_int, default=10000, help="null size (10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the nulls (0)")
    parser.add_argument(
        "--null",
        choices=("auto", "copairs", "sampled"),
        default="auto",
        help="copairs' permutation nulls (identical p-values), sampled positives' ranks "
        "(cost independent of the number of negatives), or auto: copairs' while affordable",
    )
    parser.add_argument("--threshold", type=float, default=0.05, help="significance (0.05)")
    parser.add_argument("--out", metavar="CSV", help="write the per-query table here")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    custom = any(getattr(args, rule) for rule in _RULES) or args.reference or args.multilabel
    if args.task and custom:
        raise ProfileTableError("give either --task or pair rules (--pos-sameby ...), not both")
    if args.task:
        from napari_phenoscope.evaluation.tasks import evaluate_file

        print(
            evaluate_file(args.profiles, args.task, args.null_size, args.seed, args.out, args.null)
        )
        return 0
    if not custom:
        raise ProfileTableError("give --task or pair rules (--pos-sameby COL ...)")
    from napari_phenoscope.evaluation.rules import (
        PairRules,
        evaluate_rules_file,
        parse_columns,
        parse_reference,
    )

    rules = PairRules(
        *(parse_columns(getattr(args, rule)) for rule in _RULES),
        reference=parse_reference(args.reference) if args.reference else None,
        multilabel=args.multilabel,
        map_by=parse_columns(args.map_by) or None,
    )
    print(
        evaluate_rules_file(
            args.profiles,
            rules,
            null_size=args.null_size,
            seed=args.seed,
            threshold=args.threshold,
            out=args.out,
            drop_missing=args.drop_missing,
        )
    )
    return 0

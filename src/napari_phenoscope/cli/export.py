"""``phenoscope export``: a profile table out to AnnData (``.h5ad``) for scanpy and friends."""

from __future__ import annotations

import argparse


def add(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="profile table -> AnnData .h5ad (X features, obs metadata, obsm X_umap)",
        description="Write a pycytominer-shaped profile table (CSV, CSV.gz or Parquet) as an "
        "AnnData file: X the features (float32), obs the Metadata_ columns with their types, "
        "var the feature names, and with --umap the seeded UMAP of the profiles in "
        "obsm['X_umap'] (scanpy's key). Feature columns with NaN are dropped and listed.",
    )
    parser.add_argument("profiles", metavar="PROFILES", help="Parquet, CSV or CSV.gz table")
    parser.add_argument("--to", required=True, metavar="OUT.h5ad", help="AnnData file to write")
    parser.add_argument(
        "--umap", action="store_true", help="compute the UMAP (seed 0, cosine) into obsm"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from napari_phenoscope.io.h5ad import UMAP_KEY, write_h5ad
    from napari_phenoscope.io.profile_tables import describe, load_profile_table

    table = load_profile_table(args.profiles)
    print(describe(table))
    layout = None
    if args.umap:
        from napari_phenoscope.profile_map.layout import compute_umap

        layout = compute_umap(table.features)
    path = write_h5ad(table, args.to, umap=layout)
    extra = f", obsm[{UMAP_KEY!r}]" if layout is not None else ""
    print(f"AnnData {len(table)} x {len(table.feature_names)}{extra} -> {path}")
    return 0

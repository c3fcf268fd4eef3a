"""Held-out check of the bundled MAE: reconstruction loss, and CLS vs mean embeddings.

Run: ``.venv/bin/python benchmarks/eval_embeddings.py [PROJECT] [--modality compound]``

On held-out demo plates (``ensure_demo_plates()``, seed 0; the bundled weights were trained
on seed-1 plates), every cell is embedded with the bundled MAE encoder and with a randomly
initialised one (same architecture, the baseline), pooled both ways; wells are the mean of
their cells, robust-z-scored per plate (median / MAD over wells). For each treated well of
replicate plate 1, the cosine-nearest well of replicate plate 2 is a hit when it has the
same perturbation (``Metadata_broad_sample``). Prints the fraction of hits per embedding;
chance is 1 / (wells per plate). Also prints the MAE loss (75 % masking, fixed seed) on up
to 2048 cells of the first plate, for the bundled and an untrained MAE.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from napari_phenoscope.constants import BROAD_SAMPLE, CONTROL_TYPE, MODALITY, PLATE, WELL
from napari_phenoscope.features.crops import extract_crops
from napari_phenoscope.models import (
    DEFAULT_CONFIG,
    MaskedAutoencoder,
    create_encoder,
    load_encoder,
    load_mae,
)
from napari_phenoscope.models.embed import pool_tokens
from napari_phenoscope.models.field_inspection import reconstruct


def well_embeddings(
    root: Path, plate: str, encoders: dict, kept: list | None = None
) -> dict[str, pd.DataFrame]:
    """Mean cell embedding per well of one plate, per (encoder, pool); crops into ``kept``."""
    from napari_phenoscope.io import index_plate, read_field
    from napari_phenoscope.segmentation.field import segment_field

    fields = index_plate(root)
    fields = fields[fields[PLATE] == plate]
    rows: dict[str, list] = {}
    for field in fields.to_dict("records"):
        image = read_field(field)
        table = segment_field(image).table
        if table.empty:
            continue
        crops = torch.from_numpy(extract_crops(image, table))
        if kept is not None and sum(map(len, kept)) < 2048:
            kept.append(crops.numpy())
        for name, encoder in encoders.items():
            with torch.no_grad():
                tokens = encoder.forward_features(crops)
            for pool in ("cls", "mean"):
                cells = pool_tokens(tokens, pool).numpy()
                rows.setdefault(f"{name} {pool}", []).append((field[WELL], cells))
    tables = {}
    for key, parts in rows.items():
        wells = pd.DataFrame(
            [(well, cell) for well, cells in parts for cell in cells], columns=[WELL, "x"]
        )
        profiles = wells.groupby(WELL)["x"].apply(lambda x: np.mean(np.stack(x), axis=0))
        matrix = np.stack(profiles.to_numpy())
        median = np.median(matrix, axis=0)
        mad = np.median(np.abs(matrix - median), axis=0) * 1.4826 + 1e-6
        tables[key] = pd.DataFrame((matrix - median) / mad, index=profiles.index)
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", nargs="?", help="demo project (default: ensure_demo_plates())")
    parser.add_argument("--modality", default="compound")
    parser.add_argument("--weights", help="weights to evaluate (default: bundled)")
    args = parser.parse_args()
    from napari_phenoscope.demo.project import ensure_demo_plates
    from napari_phenoscope.io import read_well_metadata

    root = Path(args.project) if args.project else ensure_demo_plates()
    metadata = read_well_metadata(root)
    metadata = metadata[metadata[MODALITY] == args.modality]
    plates = sorted(metadata[PLATE].unique())[:2]
    torch.manual_seed(0)
    encoders = {
        "bundled MAE": load_encoder(args.weights),
        "random init": create_encoder(DEFAULT_CONFIG),
    }
    encoders["random init"].eval()
    kept: list[np.ndarray] = []
    per_plate = [
        well_embeddings(root, plate, encoders, kept if i == 0 else None)
        for i, plate in enumerate(plates)
    ]
    labels = [metadata[metadata[PLATE] == p].set_index(WELL) for p in plates]
    print(f"{root} {args.modality} plates {plates}")
    for key in per_plate[0]:
        first, second = per_plate[0][key], per_plate[1][key]
        treated = [w for w in first.index if labels[0].loc[w, CONTROL_TYPE] != "negcon"]
        a = first.loc[treated].to_numpy()
        b = second.to_numpy()
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        nearest = second.index[np.argmax(a @ b.T, axis=1)]
        hits = [
            labels[0].loc[w, BROAD_SAMPLE] == labels[1].loc[n, BROAD_SAMPLE]
            for w, n in zip(treated, nearest, strict=True)
        ]
        print(
            f"{key:18s}: {np.mean(hits):.3f} top-1 replicate hits over {len(treated)} wells "
            f"(chance ~{1 / len(second):.3f})"
        )
    held_out = np.concatenate(kept)[:2048]
    untrained = MaskedAutoencoder(encoders["random init"]).eval()
    for name, mae in (("bundled MAE", load_mae(args.weights)), ("untrained MAE", untrained)):
        loss = reconstruct(mae, held_out, seed=0).loss
        print(f"{name:18s}: held-out MAE loss {loss:.4f} on {len(held_out)} cells of {plates[0]}")


if __name__ == "__main__":
    main()

"""The whole comparison of a query, its match and a contrast: its figure and its numbers.

On test_explain_cells' small plate in the CPJUMP1 layout (the query's and the match's cells
with condensed DNA, the controls' broad) and its small random ViT.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_explain_cells import encoder, plate, well_profiles

from napari_phenoscope.similarity.comparison import compare, comparison_tables
from napari_phenoscope.similarity.comparison_figure import (
    comparison_figure,
    draw_comparison,
    write_comparison,
)

__all__ = ["encoder", "plate"]  # module fixtures of test_explain_cells, used here by name


def test_compare_with_images_and_the_vit_fills_every_panel(plate, encoder, tmp_path) -> None:
    fields, cells = plate
    cells = cells.assign(**{f"Cells_ViT_{i:04d}": 0.0 for i in range(4, 48)})
    profiles = {"vit": well_profiles("vit"), "classical": well_profiles("classical")}
    comparison = compare(
        profiles, "BI-2536", "PLK1", cells, fields, encoder, n_cells=2, null_size=100,
        occlusion_cells_per_well=2,
    )  # fmt: skip
    assert list(comparison.explanations) == ["classical", "vit"]
    assert comparison.notes == []
    # BI-2536's other target (BRD4) is not on the plate: the nearest non-target crispr knockout
    assert comparison.contrast.match_name == "SOLO (crispr)"
    assert (
        list(comparison.cells["role"])
        == ["query"] * 2 + ["match"] * 2 + ["contrast"] * 2 + ["control"] * 2
    )
    assert comparison.thumbnails.shape == (8, 76, 76, 3)  # one cell each (cell_window)
    assert comparison.occlusion is not None
    figure_path, *tables = write_comparison(comparison, tmp_path / "why.svg")
    assert figure_path.read_text().lstrip().startswith("<?xml")
    names = sorted(path.name for path in tables)
    assert names == [
        "why_cells.csv",
        "why_groups.csv",
        "why_occlusion.csv",
        "why_replicates.csv",
        "why_summary.csv",
    ]
    groups = pd.read_csv(tmp_path / "why_groups.csv")
    summary = pd.read_csv(tmp_path / "why_summary.csv").set_index(["feature set", "side"])
    assert len(summary) == 4  # (classical, ViT) x (match, contrast)
    for key, rows in groups.groupby(["feature set", "side"]):
        assert rows["contribution"].sum() == pytest.approx(summary.loc[key, "similarity"])


def test_clicking_a_drawn_cell_finds_its_row(plate, encoder) -> None:
    from matplotlib.figure import Figure

    fields, cells = plate
    profiles = {"vit": well_profiles("vit")}
    comparison = compare(profiles, "BI-2536", "PLK1", cells, fields, n_cells=2, null_size=20)
    tiles = draw_comparison(Figure(), comparison)
    assert len(tiles.boxes) == len(comparison.cells) == 8
    axes, x0, x1, y0, y1, row = tiles.boxes[3]
    assert tiles.cell_at(axes, (x0 + x1) / 2, (y0 + y1) / 2) == row == 3
    assert comparison.cells.iloc[row]["role"] == "match"
    assert tiles.cell_at(axes, -5, -5) is None


def test_a_query_without_images_still_explains_the_profiles(plate, tmp_path: Path) -> None:
    _, cells = plate
    profiles = {"vit": well_profiles("vit"), "classical": well_profiles("classical")}
    comparison = compare(profiles, "BI-2536", "crispr:PLK1", cells, fields=None, null_size=50)
    assert comparison.thumbnails is None and comparison.occlusion is None
    assert any("no images" in note for note in comparison.notes)
    notes = comparison.notes
    assert any("no ViT channel occlusion" in note and "no images" in note for note in notes)
    written = write_comparison(comparison, tmp_path / "why.png")
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "occlusion" not in comparison_tables(comparison)
    # no single cells either: the profiles alone
    bare = compare(profiles, "BI-2536", "PLK1")
    assert bare.cells is None and bare.summary()["similarity"].notna().all()
    comparison_figure(bare)  # draws, with notes in place of the cells


def test_a_perturbation_with_one_well_in_the_comparison(plate) -> None:
    _, cells = plate
    comparison = compare({"classical": well_profiles("classical")}, "aspirin", "SOLO", cells)
    summary = comparison.summary().iloc[0]
    assert summary["match wells"] == 1 and np.isnan(summary["match replicate consistency"])
    assert summary["query wells"] == 1 and np.isnan(summary["query replicate consistency"])
    comparison_figure(comparison)

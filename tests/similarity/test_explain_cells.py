"""Why a match, in the cells: occlusion, representative cells, the figure, and bad states.

A small plate is written in the CPJUMP1 layout: the query's and the match's cells have
small, condensed DNA (the demo's mitotic arrest), the control cells broad DNA; every other
channel is the same everywhere and Mito is empty. A small random ViT embeds the crops.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from conftest import phenix_name
from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CENTER_X,
    CENTER_Y,
    CHANNELS,
    CONTROL_TYPE,
    GENE,
    LABEL,
    MODALITY,
    NEGATIVE_CONTROL,
    PERT_INAME,
    PLATE,
    SITE,
    TARGET_LIST,
    WELL,
)
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io import index_plate
from napari_phenoscope.similarity.comparison import compare, comparison_tables
from napari_phenoscope.similarity.comparison_figure import (
    comparison_figure,
    draw_comparison,
    write_comparison,
)
from napari_phenoscope.similarity.explain_cells import (
    cell_window,
    channel_occlusion,
    read_windows,
    representative_rows,
    sample_cells,
)

BARCODE = "BR00116991"
SIZE = 96
CENTRES = [(24, 24), (24, 72), (72, 24), (72, 72)]
# well -> (perturbation name, modality, gene, control type, DNA blob sigma)
WELLS = {
    "A01": ("BI-2536", "compound", "", "", 1.6),
    "A02": ("BI-2536", "compound", "", "", 1.6),
    "A03": ("PLK1", "crispr", "PLK1", "", 1.6),
    "A04": ("PLK1", "crispr", "PLK1", "", 1.6),
    "B01": ("DMSO", "compound", "", NEGATIVE_CONTROL, 6.0),
    "B02": ("DMSO", "compound", "", NEGATIVE_CONTROL, 6.0),
    "B03": ("DMSO", "compound", "", NEGATIVE_CONTROL, 6.0),
    "B04": ("DMSO", "compound", "", NEGATIVE_CONTROL, 6.0),
    "C01": ("aspirin", "compound", "", "", 6.0),
    "C02": ("SOLO", "crispr", "SOLO", "", 6.0),
}
CLASSICAL = ["Nuclei_Intensity_MeanIntensity_DNA", "Nuclei_AreaShape_Area", "Cells_AreaShape_Area"]


def blob_field(sigma: float, seed: int) -> np.ndarray:
    """(5, SIZE, SIZE) uint16: DNA blobs of ``sigma`` px; ER, RNA, AGP a fixed soft glow."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    dna = np.zeros((SIZE, SIZE))
    glow = np.zeros((SIZE, SIZE))
    for cy, cx in CENTRES:
        distance = (yy - cy) ** 2 + (xx - cx) ** 2
        dna += 2000 * np.exp(-distance / (2 * sigma**2))
        glow += 800 * np.exp(-distance / (2 * 9.0**2))
    image = np.full((len(CHANNELS), SIZE, SIZE), 100.0)
    image[0] += dna + rng.normal(0, 20, dna.shape)
    for channel in (1, 2, 3):  # ER, RNA, AGP: the same in every well, but for noise
        image[channel] += glow + rng.normal(0, 20, glow.shape)
    return np.clip(image, 0, 4095).astype(np.uint16)  # Mito (4) stays a flat 100


def metadata(well: str) -> dict:
    name, modality, gene, control, _ = WELLS[well]
    return {
        PLATE: BARCODE,
        WELL: well,
        MODALITY: modality,
        BROAD_SAMPLE: "" if control else f"BRD-{name}",
        PERT_INAME: name if modality == "compound" else "",
        GENE: gene,
        TARGET_LIST: "PLK1|BRD4" if name == "BI-2536" else "",
        CONTROL_TYPE: control,
    }


@pytest.fixture(scope="module")
def plate(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(field index, single-cell table) of the plate."""
    root = tmp_path_factory.mktemp("compare")
    images = root / "images" / f"{BARCODE}__2020-11-05T19_51_35-Measurement1" / "Images"
    images.mkdir(parents=True)
    rows = []
    rng = np.random.default_rng(0)
    for number, (well, spec) in enumerate(WELLS.items()):
        field = blob_field(spec[4], seed=number)
        for index, channel in enumerate(CHANNELS):
            tifffile.imwrite(images / phenix_name(well, 1, channel), field[index])
        for label, (cy, cx) in enumerate(CENTRES, start=1):
            cell = {**metadata(well), SITE: 1, LABEL: label, CENTER_Y: cy, CENTER_X: cx}
            cell.update({f"Cells_ViT_{i:04d}": rng.normal() for i in range(4)})
            rows.append(cell)
    return index_plate(root), pd.DataFrame(rows)


@pytest.fixture(scope="module")
def encoder():
    import torch

    from napari_phenoscope.models.vit import EncoderConfig, create_encoder

    torch.manual_seed(0)
    config = EncoderConfig(img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=2)
    return create_encoder(config).eval()


def well_profiles(feature_set: str) -> pd.DataFrame:
    """Well profiles on the plate's wells: the query and match share a phenotype."""
    rng = np.random.default_rng(1 if feature_set == "vit" else 2)
    columns = CLASSICAL if feature_set == "classical" else [f"Cells_ViT_{i:04d}" for i in range(4)]
    shared = np.array([3.0, -2.0, -1.5, 0.5][: len(columns)])
    rows = []
    for well, spec in WELLS.items():
        effect = shared if spec[0] in ("BI-2536", "PLK1") else rng.normal(0, 1.0, len(columns))
        if spec[3] == NEGATIVE_CONTROL:
            effect = np.zeros(len(columns))
        values = effect + rng.normal(0, 0.2, len(columns))
        rows.append({**metadata(well), **dict(zip(columns, values, strict=True))})
    return pd.DataFrame(rows)


def keys(*wells: str) -> list[tuple[str, str]]:
    return [(BARCODE, well) for well in wells]


# --- ViT channel occlusion ----------------------------------------------------------------


def test_occlusion_finds_the_channel_that_carries_the_match(plate, encoder) -> None:
    fields, cells = plate
    columns = [f"Cells_ViT_{i:04d}" for i in range(48)]
    table = channel_occlusion(
        encoder, cells, fields, keys("A01", "A02"), keys("A03", "A04"), columns, per_well=4
    ).set_index("blanked")
    assert list(table.index) == ["none", *CHANNELS]
    assert (table["cells"] == 4 * 8).all()  # 2 + 2 side wells and 4 controls, 4 cells each
    assert table.loc["none", "similarity"] > 0.8  # both sides: condensed DNA, nothing else
    assert table.loc["none", "change"] == 0.0
    # blanking an empty channel changes nothing; blanking DNA loses the shared phenotype
    assert table.loc["Mito", "change"] == pytest.approx(0.0, abs=1e-5)
    assert table["change"].idxmin() == "DNA"
    assert table.loc["DNA", "change"] < -0.15
    for channel in ("ER", "RNA", "AGP"):  # the same in every well: blanking them hardly matters
        assert abs(table.loc[channel, "change"]) < 0.05


def test_occlusion_is_seeded(plate, encoder) -> None:
    fields, cells = plate
    columns = [f"Cells_ViT_{i:04d}" for i in range(48)]
    run = [
        channel_occlusion(
            encoder, cells, fields, keys("A01"), keys("A03"), columns, per_well=2, seed=3
        )
        for _ in range(2)
    ]
    pd.testing.assert_frame_equal(run[0], run[1])
    chosen = sample_cells(cells, keys("A01", "B01"), per_well=2, seed=3)
    assert len(chosen) == 4 and set(chosen[WELL]) == {"A01", "B01"}


def test_windows_are_read_around_the_cells_and_a_missing_field_is_named(plate) -> None:
    fields, cells = plate
    rows = cells[cells[WELL] == "A01"].iloc[:2]
    windows = read_windows(fields, rows, size=16)
    assert windows.shape == (2, 5, 16, 16)
    assert windows[:, 0, 8, 8].min() > 1500  # a DNA blob at the centre of each window
    with pytest.raises(PlateFormatError, match="no images for BR00116991 P24 site 1"):
        read_windows(fields, rows.assign(**{WELL: "P24"}), size=16)


def test_representative_cells_of_each_side_and_the_controls(plate) -> None:
    fields, cells = plate
    del fields
    profiles = well_profiles("vit")
    columns = [f"Cells_ViT_{i:04d}" for i in range(4)]
    query = profiles[profiles[PERT_INAME] == "BI-2536"]
    match = profiles[profiles[GENE] == "PLK1"]
    sides = {
        "query": (query, query[columns].median().to_numpy()),
        "match": (match, match[columns].median().to_numpy()),
    }
    rows = representative_rows(cells, sides, profiles, columns, columns, n=3)
    assert list(rows["role"]) == ["query"] * 3 + ["match"] * 3 + ["control"] * 3
    assert set(rows.loc[rows["role"] == "query", WELL]) <= {"A01", "A02"}
    assert set(rows.loc[rows["role"] == "match", WELL]) <= {"A03", "A04"}
    assert (rows.loc[rows["role"] == "control", CONTROL_TYPE] == NEGATIVE_CONTROL).all()


# --- the whole comparison, its figure and its numbers ------------------------------------------


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


def test_a_thumbnail_spans_one_cell(plate) -> None:
    _, cells = plate
    # the plate's cells sit 48 px apart: a thumbnail of 1.6 x 48 px shows one cell
    assert cell_window(cells) == 76
    spread = cells.assign(**{CENTER_X: cells[CENTER_X] * 4, CENTER_Y: cells[CENTER_Y] * 4})
    assert cell_window(spread) == 96  # never more than WINDOW_PX
    assert cell_window(cells.groupby(WELL).head(1)) == 96  # one cell a field: no spacing

"""Why a match, in the cells: occlusion, representative cells, windows, and bad states.

A small plate is written in the CPJUMP1 layout: the query's and the match's cells have
small, condensed DNA (the demo's mitotic arrest), the control cells broad DNA; every other
channel is the same everywhere and Mito is empty. A small random ViT embeds the crops.
"""

from __future__ import annotations

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


def test_a_thumbnail_spans_one_cell(plate) -> None:
    _, cells = plate
    # the plate's cells sit 48 px apart: a thumbnail of 1.6 x 48 px shows one cell
    assert cell_window(cells) == 76
    spread = cells.assign(**{CENTER_X: cells[CENTER_X] * 4, CENTER_Y: cells[CENTER_Y] * 4})
    assert cell_window(spread) == 96  # never more than WINDOW_PX
    assert cell_window(cells.groupby(WELL).head(1)) == 96  # one cell a field: no spacing

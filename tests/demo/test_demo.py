"""Tests of the demo plate generator: format, determinism, ground truth and the BI-2536 story."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from skimage.measure import regionprops

import napari_phenoscope.demo.project as demo
from napari_phenoscope.cli import main
from napari_phenoscope.constants import (
    CHANNELS,
    CPJUMP1_CHANNEL_MAP,
    PHENIX_FILENAME,
    PLATE,
    SITE,
    WELL,
    well_name,
)
from napari_phenoscope.demo.render import MAX_VALUE, N_LATENT, render_field

SMALL = {"seed": 0, "n_wells": 16, "n_sites": 1, "size": 128, "n_replicates": 2}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> demo.DemoManifest:
    """A small demo project: 3 modalities x 2 replicates x 16 wells x 1 site of 128 px."""
    return demo.write_demo_plates(tmp_path_factory.mktemp("demo"), progress=False, **SMALL)


def _bundled(name: str) -> bytes:
    return (resources.files("napari_phenoscope") / "data" / "jump_target" / name).read_bytes()


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- rendering ----------------------------------------------------------------------------


def test_render_field_is_deterministic_and_seed_dependent() -> None:
    first, again, other = (
        render_field(7, size=96),
        render_field(7, size=96),
        render_field(8, size=96),
    )
    for name in ("image", "nuclei", "cells"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.image, other.image)
    assert first.image.shape == (len(CHANNELS), 96, 96)
    assert first.image.dtype == np.uint16 and first.nuclei.dtype == np.int32


def test_labels_are_consistent() -> None:
    for seed in range(5):
        field = render_field(seed, size=160)
        labels = set(np.unique(field.nuclei)) - {0}
        assert labels == set(np.unique(field.cells)) - {0}
        assert 10 <= len(labels) <= 60
        nucleus_pixels = field.nuclei > 0
        # nucleus k lies entirely inside cell k, and every cell is bigger than its nucleus
        np.testing.assert_array_equal(field.cells[nucleus_pixels], field.nuclei[nucleus_pixels])
        nucleus_area = np.bincount(field.nuclei.ravel())[1:]
        cell_area = np.bincount(field.cells.ravel(), minlength=nucleus_area.size + 1)[1:]
        present = nucleus_area > 0
        assert np.all(cell_area[present] > nucleus_area[present])
        assert field.mitotic.shape == (len(labels),)


def test_cells_touch_and_sizes_are_realistic() -> None:
    field = render_field(3, size=256)
    props = regionprops(field.nuclei)
    diameters = np.array([p.equivalent_diameter_area for p in props])
    cell_diameters = np.array([p.equivalent_diameter_area for p in regionprops(field.cells)])
    assert 10 <= np.median(diameters) <= 20
    assert 25 <= np.median(cell_diameters) <= 45
    # some neighbouring cells share a border (label next to a different non-zero label)
    left, right = field.cells[:, :-1], field.cells[:, 1:]
    assert np.any((left > 0) & (right > 0) & (left != right))


def test_values_are_12_bit_in_uint16() -> None:
    field = render_field(1, np.full(N_LATENT, 1.5), size=128)
    assert field.image.dtype == np.uint16
    assert field.image.max() <= MAX_VALUE
    assert np.mean(field.image == MAX_VALUE) < 0.002  # saturation is rare
    assert field.image.min() > 50  # camera offset: no clipped-at-zero background


# --- phenotypes: the BI-2536 story ----------------------------------------------------------


def _guides(gene: str) -> list[str]:
    design = demo.load_design("crispr")
    return list(design.loc[design["gene"] == gene, "broad_sample"])


def test_bi2536_latent_is_plk1_not_brd4() -> None:
    bi2536 = demo.perturbation_latent(0, "compound", demo.BI_2536)
    to_plk1 = [_cosine(bi2536, demo.perturbation_latent(0, "crispr", g)) for g in _guides("PLK1")]
    to_brd4 = [_cosine(bi2536, demo.perturbation_latent(0, "crispr", g)) for g in _guides("BRD4")]
    assert min(to_plk1) > 0.8
    assert min(to_plk1) > max(to_brd4) + 0.4
    assert not demo.perturbation_latent(0, "compound", "").any()  # DMSO has no effect


def test_orf_weakly_positive_and_poscon_pairs_alike() -> None:
    crispr, orf = demo.load_design("crispr"), demo.load_design("orf")
    genes = sorted(set(crispr.loc[crispr["control_type"] == "", "gene"]) & set(orf["gene"]))
    cosines = []
    for gene in genes:
        knockout = demo.gene_effect(0, gene)
        if not knockout.any():
            continue
        sample = orf.loc[orf["gene"] == gene, "broad_sample"].iloc[0]
        cosines.append(_cosine(knockout, demo.perturbation_latent(0, "orf", sample)))
    assert 0.05 < np.mean(cosines) < 0.7  # weakly positive, not a copy
    compounds = demo.load_design("compound")
    poscon = compounds[compounds["control_type"] == "poscon_diverse"].drop_duplicates(
        "broad_sample"
    )
    matched = set(crispr.loc[crispr["control_type"] == "poscon_diverse", "gene"])
    for row in poscon.itertuples():
        target = next(t for t in row.target_list.split("|") if t in matched)
        compound = demo.perturbation_latent(0, "compound", row.broad_sample)
        assert _cosine(compound, demo.gene_effect(0, target)) > 0.7, row.pert_iname


def _nucleus_measures(fields: list[demo.DemoField]) -> dict[str, float]:
    """Median nucleus area, eccentricity and mean DNA intensity over the fields' cells."""
    area, eccentricity, dna = [], [], []
    for field in fields:
        for region in regionprops(field.nuclei, intensity_image=field.image[0]):
            area.append(region.area)
            eccentricity.append(region.eccentricity)
            dna.append(region.intensity_mean)
    return {
        "area": float(np.median(area)),
        "eccentricity": float(np.median(eccentricity)),
        "dna": float(np.median(dna)),
    }


def _wells(modality: str, column: str, value: str) -> list[str]:
    design = demo.load_design(modality)
    return sorted(design.loc[design[column] == value, "well_position"])[:4]


def test_bi2536_cells_look_like_plk1_knockout_not_brd4() -> None:
    def measure(modality: str, wells: list[str]) -> dict[str, float]:
        fields = [
            demo.demo_well_field(w, modality, site, size=192) for w in wells for site in (1, 2)
        ]
        return _nucleus_measures(fields)

    dmso = measure("compound", _wells("compound", "pert_iname", "DMSO"))
    bi2536 = measure("compound", _wells("compound", "broad_sample", demo.BI_2536))
    plk1 = measure("crispr", _wells("crispr", "gene", "PLK1"))
    brd4 = measure("crispr", _wells("crispr", "gene", "BRD4"))
    for arrested in (bi2536, plk1):  # mitotic arrest: small, round, bright condensed DNA
        assert arrested["area"] < 0.7 * dmso["area"]
        assert arrested["dna"] > 1.3 * dmso["dna"]
        assert arrested["eccentricity"] < dmso["eccentricity"]
    assert brd4["area"] > 1.2 * dmso["area"] and brd4["dna"] < 0.9 * dmso["dna"]

    def distance(a: dict[str, float], b: dict[str, float]) -> float:
        return float(np.linalg.norm([np.log(a[k] / b[k]) for k in ("area", "dna")]))

    assert distance(bi2536, plk1) < 0.5 * distance(bi2536, brd4)


def test_edge_wells_differ_from_inner_wells() -> None:
    dmso = demo.load_design("compound")
    dmso = sorted(dmso.loc[dmso["pert_iname"] == "DMSO", "well_position"])
    edge = [w for w in dmso if demo.edge_ring(w) == 0][:3]
    inner = [w for w in dmso if demo.edge_ring(w) == 2][:3]
    assert len(edge) == len(inner) == 3

    def cell_brightness(wells: list[str]) -> float:
        values = []
        for well in wells:
            field = demo.demo_well_field(well, "compound", 1, size=192)
            values += [r.intensity_mean for r in regionprops(field.cells, field.image[3])]
        return float(np.median(values))

    assert cell_brightness(edge) > 1.07 * cell_brightness(inner)


# --- plates on disk -------------------------------------------------------------------------


def test_select_wells_keeps_the_story_wells() -> None:
    wells = demo.select_wells(64)
    assert all(len(w) == 64 for w in wells.values())
    compounds, crispr, orf = (demo.load_design(m) for m in ("compound", "crispr", "orf"))
    assert set(_wells("compound", "broad_sample", demo.BI_2536)) <= set(wells["compound"])
    for gene in ("PLK1", "BRD4"):
        assert set(crispr.loc[crispr["gene"] == gene, "well_position"]) <= set(wells["crispr"])
        assert set(orf.loc[orf["gene"] == gene, "well_position"]) & set(wells["orf"])
    for modality, design in (("compound", compounds), ("crispr", crispr), ("orf", orf)):
        chosen = design[design["well_position"].isin(wells[modality])]
        assert (chosen["control_type"] == "negcon").sum() >= 8
    # compound-gene triples: a rendered compound annotated with a gene whose guide and ORF
    # are rendered too
    chosen_compounds = compounds[compounds["well_position"].isin(wells["compound"])]
    crispr_genes = set(crispr.loc[crispr["well_position"].isin(wells["crispr"]), "gene"])
    orf_genes = set(orf.loc[orf["well_position"].isin(wells["orf"]), "gene"])
    triples = {
        gene
        for targets in chosen_compounds["target_list"]
        for gene in targets.split("|")
        if gene in crispr_genes & orf_genes
    }
    assert len(triples) >= 15


def test_folder_layout_and_names(project: demo.DemoManifest) -> None:
    root = project.root
    assert len(project.plates) == 6
    assert len({plate.barcode for plate in project.plates}) == 6
    n_fields = SMALL["n_wells"] * SMALL["n_sites"]
    for plate in project.plates:
        assert plate.images.name == "Images"
        assert plate.images.parent.name.startswith(f"{plate.barcode}__")
        assert plate.images.parent.parent == root / "images"
        names = sorted(p.name for p in plate.images.iterdir())
        assert len(names) == n_fields * len(CHANNELS)
        channels = set()
        for name in names:
            match = PHENIX_FILENAME.match(name)
            assert match is not None, name
            channels.add(CPJUMP1_CHANNEL_MAP[int(match["channel"])])
            well = well_name(int(match["row"]), int(match["col"]))
            assert well in project.wells[plate.modality]
            stem = name.split("-")[0]
            assert (root / "ground_truth" / plate.barcode / f"{stem}_nuclei.tiff").is_file()
            assert (root / "ground_truth" / plate.barcode / f"{stem}_cells.tiff").is_file()
        assert channels == set(CHANNELS)


def test_load_data_csv(project: demo.DemoManifest) -> None:
    expected = [PLATE, WELL, SITE]
    for channel in CHANNELS:
        expected += [f"FileName_Orig{channel}", f"PathName_Orig{channel}"]
    for plate in project.plates:
        assert plate.load_data == project.root / "load_data_csv" / plate.barcode / "load_data.csv"
        table = pd.read_csv(plate.load_data)
        assert list(table.columns) == expected
        assert len(table) == SMALL["n_wells"] * SMALL["n_sites"]
        assert set(table[PLATE]) == {plate.barcode}
        for channel in CHANNELS:
            for folder, name in zip(
                table[f"PathName_Orig{channel}"], table[f"FileName_Orig{channel}"], strict=True
            ):
                assert Path(folder).is_absolute() and (Path(folder) / name).is_file()
                number = int(PHENIX_FILENAME.match(name)["channel"])
                assert CPJUMP1_CHANNEL_MAP[number] == channel


def test_plate_maps_are_the_bundled_jump_target_files(project: demo.DemoManifest) -> None:
    batch = project.root / "metadata" / "platemaps" / demo.BATCH
    barcodes = pd.read_csv(batch / "barcode_platemap.csv")
    assert list(barcodes.columns) == ["Assay_Plate_Barcode", "Plate_Map_Name"]
    assert set(barcodes["Assay_Plate_Barcode"]) == {plate.barcode for plate in project.plates}
    for plate in project.plates:
        name = barcodes.loc[barcodes["Assay_Plate_Barcode"] == plate.barcode, "Plate_Map_Name"]
        written = batch / "platemap" / f"{name.iloc[0]}.txt"
        assert written.read_bytes() == _bundled(f"{plate.modality}_platemap.tsv")
    external = project.root / "metadata" / "external_metadata"
    for modality in ("compound", "crispr", "orf"):
        written = external / f"JUMP-Target-1_{modality}_metadata.tsv"
        assert written.read_bytes() == _bundled(f"{modality}_metadata.tsv")


def test_the_package_readers_open_the_demo(project: demo.DemoManifest) -> None:
    from napari_phenoscope.io.fields import read_field
    from napari_phenoscope.io.loaddata import index_load_data_csv
    from napari_phenoscope.io.platemap import read_well_metadata

    compound = next(plate for plate in project.plates if plate.modality == "compound")
    index = index_load_data_csv(compound.load_data)
    row = index[(index[WELL] == "E21") & (index[SITE] == 1)].iloc[0]
    expected = demo.demo_well_field("E21", "compound", 1, seed=0, size=SMALL["size"])
    np.testing.assert_array_equal(read_field(row), expected.image)  # disk == in-memory render
    truth = tifffile.imread(compound.ground_truth / "r05c21f01p01_nuclei.tiff")
    np.testing.assert_array_equal(truth, expected.nuclei)
    wells = read_well_metadata(project.root)
    bi2536 = wells[(wells[PLATE] == compound.barcode) & (wells[WELL] == "E21")].iloc[0]
    assert bi2536["Metadata_pert_iname"] == "BI-2536"


def test_latent_effects_ground_truth(project: demo.DemoManifest) -> None:
    table = pd.read_parquet(project.latent_effects)
    assert len(table) == len(project.plates) * SMALL["n_wells"]
    latent = table.filter(like="latent_").to_numpy()
    assert latent.shape[1] == N_LATENT
    bi2536 = table[table["Metadata_broad_sample"] == demo.BI_2536]
    assert len(bi2536) == 2 * SMALL["n_replicates"]
    assert (bi2536["latent_mitotic_arrest"] > 2).all()
    controls = table[table["Metadata_name"] == "DMSO"].filter(like="latent_")
    assert np.abs(controls.to_numpy()).max() < 1.0  # well noise (+ edge stress) only


def test_replicate_plates_differ_only_by_plate_effects(project: demo.DemoManifest) -> None:
    first = demo.demo_well_field("E21", "compound", 1, size=96, replicate=1)
    second = demo.demo_well_field("E21", "compound", 1, size=96, replicate=2)
    assert first.metadata[PLATE] != second.metadata[PLATE]
    assert not np.array_equal(first.image, second.image)


def test_written_files_are_byte_identical_across_runs(tmp_path: Path) -> None:
    params = {"seed": 3, "n_wells": 12, "n_sites": 1, "size": 64, "n_replicates": 1}
    first = demo.write_demo_plates(tmp_path / "a", progress=False, **params)
    second = demo.write_demo_plates(tmp_path / "b", progress=False, **params)
    files = sorted(p.relative_to(first.root) for p in first.root.rglob("*.tiff"))
    assert len(files) == 3 * 12 * (len(CHANNELS) + 2)
    for relative in files:
        assert (first.root / relative).read_bytes() == (second.root / relative).read_bytes()
    other = demo.write_demo_plates(tmp_path / "c", progress=False, **{**params, "seed": 4})
    assert (other.root / files[0]).read_bytes() != (first.root / files[0]).read_bytes()


def test_ensure_demo_plates_writes_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params = {"n_wells": 12, "n_sites": 1, "size": 64, "n_replicates": 1}
    monkeypatch.setenv("PHENOSCOPE_CACHE", str(tmp_path / "cache"))
    root = demo.ensure_demo_plates(**params)
    assert root.parent == (tmp_path / "cache").resolve()
    manifest = demo.read_demo_manifest(root)
    marker = manifest.plates[0].load_data
    stamp = marker.stat().st_mtime_ns
    assert demo.ensure_demo_plates(**params) == root
    assert marker.stat().st_mtime_ns == stamp  # not rewritten
    assert demo.ensure_demo_plates(**{**params, "seed": 1}) != root
    with pytest.raises(TypeError):
        demo.ensure_demo_plates(wells=3)


def test_cli_demo_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--wells", "12", "--sites", "1", "--size", "64", "--replicates", "1"]
    assert main(["demo-data", str(tmp_path / "out"), *args, "--no-progress"]) == 0
    assert len(list((tmp_path / "out" / "load_data_csv").glob("*/load_data.csv"))) == 3
    assert "3 plates" in capsys.readouterr().out
    assert main(["demo-data", str(tmp_path / "bad"), "--wells", "3", "--no-progress"]) == 2
    assert "n_wells=3" in capsys.readouterr().err

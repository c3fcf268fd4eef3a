"""Metadata tables, JUMP's metadata folder, --negcon, and pixel size from image metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile

from _layouts import GALLERY_PLATE, write_jump_metadata
from napari_phenoscope import io
from napari_phenoscope.constants import (
    CONTROL_TYPE,
    GENE,
    JCP2022,
    MODALITY,
    PERT_INAME,
    PERT_TYPE,
    PLATE,
    WELL,
)
from napari_phenoscope.errors import PlateFormatError


def cells_of(plate: str, wells: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {PLATE: plate, WELL: wells, "Metadata_Site": 1, "feature": np.arange(len(wells))}
    )


def test_jump_folder_annotates_modality_gene_and_controls(tmp_path):
    folder = write_jump_metadata(tmp_path / "jump")
    assert io.is_jump_metadata_folder(folder)
    wells = io.load_metadata(folder, plates=["CP-CC9-R1-01", GALLERY_PLATE]).set_index(
        [PLATE, WELL]
    )
    crispr = wells.loc["CP-CC9-R1-01"]
    assert crispr[MODALITY].tolist() == ["crispr"] * 3
    assert crispr[GENE].tolist() == ["non-targeting", "PLK1", "CDK2"]
    assert crispr[CONTROL_TYPE].tolist() == ["negcon", "poscon", ""]
    assert crispr[PERT_TYPE].tolist() == ["control", "control", "trt"]
    compound = wells.loc[GALLERY_PLATE]
    assert compound[MODALITY].tolist() == ["compound"] * 3
    assert compound[PERT_INAME].tolist() == ["DMSO", "TC-S-7004", "DMSO"]
    assert compound[CONTROL_TYPE].tolist() == ["negcon", "poscon", "negcon"]
    assert compound.loc["A01", "Metadata_InChIKey"] == "IAZDPXIOMUYVGZ-UHFFFAOYSA-N"
    assert compound.loc["A01", "Metadata_PlateType"] == "COMPOUND"


def test_jump_folder_restricted_to_absent_plates_names_the_table(tmp_path):
    folder = write_jump_metadata(tmp_path / "jump")
    with pytest.raises(PlateFormatError, match="well.csv.gz lists none of the plates NOPE"):
        io.read_jump_metadata(folder, plates=["NOPE"])


def test_jump_table_missing_its_key_column_is_named(tmp_path):
    folder = write_jump_metadata(tmp_path / "jump")
    well = pd.read_csv(folder / "well.csv.gz").drop(columns=[JCP2022])
    well.to_csv(folder / "well.csv.gz", index=False)
    with pytest.raises(PlateFormatError, match="well.csv.gz has no column Metadata_JCP2022"):
        io.read_jump_metadata(folder)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".csv.gz", ".parquet"])
def test_metadata_table_joins_on_plate_and_well(tmp_path, suffix):
    table = pd.DataFrame(
        {PLATE: ["P1", "P1"], WELL: ["a01", "B02"], "Metadata_treatment": ["DMSO", "drug"]}
    )
    path = tmp_path / f"wells{suffix}"
    if suffix == ".parquet":
        table.to_parquet(path)
    else:
        table.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    metadata = io.load_metadata(path)
    joined = io.join_metadata(cells_of("P1", ["A01", "B02", "C03"]), metadata, path)
    assert joined["Metadata_treatment"].tolist() == ["DMSO", "drug", ""]
    assert joined["feature"].tolist() == [0, 1, 2]


def test_metadata_table_lacking_well_is_named(tmp_path):
    path = tmp_path / "wells.csv"
    pd.DataFrame({PLATE: ["P1"], "Metadata_treatment": ["DMSO"]}).to_csv(path, index=False)
    with pytest.raises(PlateFormatError, match=f"{path} has no column Metadata_Well"):
        io.load_metadata(path)


def test_metadata_table_with_two_rows_for_a_well_is_named(tmp_path):
    path = tmp_path / "wells.csv"
    metadata = pd.DataFrame({PLATE: ["P1", "P1"], WELL: ["A01", "A01"], "Metadata_x": ["1", "2"]})
    with pytest.raises(PlateFormatError, match="several rows"):
        io.join_metadata(cells_of("P1", ["A01"]), metadata, path)


def test_negcon_marks_controls_and_names_an_absent_column():
    wells = pd.DataFrame({PLATE: "P", WELL: ["A01", "A02"], "Metadata_treatment": ["DMSO", "x"]})
    marked = io.apply_negcon(wells, "treatment=DMSO")
    assert marked[CONTROL_TYPE].tolist() == ["negcon", ""]
    with pytest.raises(PlateFormatError, match="--negcon names column Metadata_compound"):
        io.apply_negcon(wells, "Metadata_compound=DMSO")
    with pytest.raises(PlateFormatError, match="is not COLUMN=VALUE"):
        io.apply_negcon(wells, "DMSO")


# --- pixel size ---------------------------------------------------------------------------


def test_pixel_size_from_ome_imagej_and_resolution_tags(tmp_path):
    plane = np.zeros((16, 16), np.uint16)
    tifffile.imwrite(tmp_path / "ome.ome.tiff", plane, metadata={"PhysicalSizeX": 0.325})
    assert io.tiff_pixel_size(tmp_path / "ome.ome.tiff") == pytest.approx(0.325)
    tifffile.imwrite(
        tmp_path / "ij.tiff",
        plane,
        imagej=True,
        resolution=(1 / 0.65, 1 / 0.65),
        metadata={"unit": "micron"},
    )
    assert io.tiff_pixel_size(tmp_path / "ij.tiff") == pytest.approx(0.65)
    tifffile.imwrite(
        tmp_path / "cm.tiff",
        plane,
        resolution=(10_000 / 0.5, 10_000 / 0.5),
        resolutionunit="CENTIMETER",
    )
    assert io.tiff_pixel_size(tmp_path / "cm.tiff") == pytest.approx(0.5)
    tifffile.imwrite(tmp_path / "none.tiff", plane)
    assert io.tiff_pixel_size(tmp_path / "none.tiff") is None


def test_real_phenix_tags_hold_the_camera_pixel_and_are_not_believed(real_fields):
    for tiff in real_fields.glob("*/images/orig/*ch5sk1fk1fl1.tiff"):
        assert io.tiff_pixel_size(tiff) is None
    fields = io.index_plate(real_fields / "JUMP_plate_BR00117006")
    assert io.resolve_pixel_size(fields) is None
    assert io.resolve_pixel_size(fields, override=0.656) == pytest.approx(0.656)
    with pytest.raises(PlateFormatError, match="--pixel-size must be a positive"):
        io.resolve_pixel_size(fields, override=0.0)

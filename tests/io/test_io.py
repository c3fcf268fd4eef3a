"""Plate readers: Phenix folders, LoadData CSVs, multi-channel TIFFs, plate maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from conftest import channel_value, phenix_name, write_tiny_plate
from napari_phenoscope import io
from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CHANNELS,
    CONTROL_TYPE,
    GENE,
    MODALITY,
    PERT_INAME,
    PLATE,
    SITE,
    TARGET_LIST,
    WELL,
)
from napari_phenoscope.errors import PlateFormatError


def images_folder(project: Path) -> Path:
    return next((project / "images").glob("*/Images"))


def test_index_phenix_folder_lists_every_field_and_channel(tiny_plate):
    fields = io.index_plate(tiny_plate)
    assert list(fields[[PLATE, WELL, SITE]].itertuples(index=False, name=None)) == [
        ("BR00116991", well, site) for well in ("A01", "A02", "B03") for site in (1, 2)
    ]
    for channel in CHANNELS:
        assert fields[io.filename_column(channel)].notna().all()


def test_read_field_orders_channels_by_name_not_number(tiny_plate):
    fields = io.index_plate(tiny_plate)
    row = fields[(fields[WELL] == "B03") & (fields[SITE] == 2)].iloc[0]
    field = io.read_field(row)
    assert field.shape == (5, 32, 32) and field.dtype == np.uint16
    for index, channel in enumerate(CHANNELS):
        assert field[index, 0, 0] == channel_value("B03", 2, channel)


def test_channel_numbers_with_leading_zero_are_read(tmp_path):
    folder = tmp_path / "plate"
    folder.mkdir()
    for number in range(1, 6):
        tifffile.imwrite(
            folder / f"r02c03f01p01-ch{number:02d}sk1fk1fl1.tiff",
            np.ones((8, 8), np.uint16) * number,
        )
    fields = io.index_plate(folder)
    assert fields[WELL].tolist() == ["B03"]
    assert io.read_field(fields.iloc[0])[CHANNELS.index("DNA"), 0, 0] == 5


def test_missing_channel_file_is_named_or_filled_with_zeros(tiny_plate):
    (images_folder(tiny_plate) / phenix_name("A02", 1, "ER")).unlink()
    fields = io.index_plate(tiny_plate)
    row = fields[(fields[WELL] == "A02") & (fields[SITE] == 1)].iloc[0]
    with pytest.raises(PlateFormatError, match="A02 site 1 has no ER image"):
        io.read_field(row)
    filled = io.read_field(row, missing="zeros")
    assert not filled[CHANNELS.index("ER")].any()
    assert filled[CHANNELS.index("DNA")].all()


def test_corrupt_tiff_error_names_the_file(tiny_plate):
    broken = images_folder(tiny_plate) / phenix_name("A01", 1, "Mito")
    broken.write_bytes(b"II*\x00 this is not a tiff")
    row = io.index_plate(tiny_plate).iloc[0]
    with pytest.raises(PlateFormatError, match=broken.name):
        io.read_field(row)


def test_mismatched_image_sizes_are_reported(tiny_plate):
    odd = images_folder(tiny_plate) / phenix_name("A01", 1, "RNA")
    tifffile.imwrite(odd, np.zeros((16, 20), np.uint16))
    row = io.index_plate(tiny_plate).iloc[0]
    with pytest.raises(PlateFormatError, match="different sizes"):
        io.read_field(row)


def test_file_deleted_after_indexing_is_named(tiny_plate):
    fields = io.index_plate(tiny_plate)
    gone = images_folder(tiny_plate) / phenix_name("A01", 1, "DNA")
    gone.unlink()
    with pytest.raises(PlateFormatError, match=f"missing image file .*{gone.name}"):
        io.read_field(fields.iloc[0])


def test_empty_folder_and_missing_path_raise_clear_errors(tmp_path):
    with pytest.raises(PlateFormatError, match="no Phenix-named images"):
        io.index_plate(tmp_path)
    with pytest.raises(PlateFormatError, match="no such file or folder"):
        io.index_plate(tmp_path / "nope")


def test_load_data_csv_with_relative_and_absolute_paths(tiny_plate):
    fields = io.index_plate(tiny_plate)
    csv_dir = tiny_plate / "load_data_csv" / "BR00116991"
    csv_dir.mkdir(parents=True)
    absolute = csv_dir / "load_data.csv"
    fields.to_csv(absolute, index=False)
    from_csv = io.index_plate(absolute)
    pd.testing.assert_frame_equal(from_csv, fields)
    relative = fields.copy()
    for channel in CHANNELS:
        relative[io.pathname_column(channel)] = "../../" + str(
            images_folder(tiny_plate).relative_to(tiny_plate)
        )
    relative.to_csv(csv_dir / "relative.csv", index=False)
    field = io.read_field(io.index_plate(csv_dir / "relative.csv").iloc[0])
    assert field[0, 0, 0] == channel_value("A01", 1, "DNA")


def test_load_data_csv_without_required_column_names_it(tmp_path):
    csv = tmp_path / "load_data.csv"
    csv.write_text("Metadata_Plate,Metadata_Site,FileName_OrigDNA,PathName_OrigDNA\nP,1,a.tif,/x\n")
    with pytest.raises(PlateFormatError, match="no column Metadata_Well"):
        io.index_plate(csv)


def test_multichannel_tiff_reads_pages_as_channels(tmp_path):
    stack = np.stack([np.full((16, 16), 7 * (i + 1), np.uint16) for i in range(5)])
    path = tmp_path / "field.tiff"
    tifffile.imwrite(path, stack)
    fields = io.index_plate(path)
    assert len(fields) == 1 and fields[PLATE].iloc[0] == "field"
    np.testing.assert_array_equal(io.read_field(fields.iloc[0]), stack)
    tifffile.imwrite(tmp_path / "flat.tiff", stack[0])
    with pytest.raises(PlateFormatError, match="flat.tiff has shape"):
        io.index_plate(tmp_path / "flat.tiff")


def test_lazy_stack_reads_only_the_planes_computed(tiny_plate, monkeypatch):
    fields = io.index_plate(tiny_plate)
    stack = io.lazy_channel_stack(fields, "DNA")
    assert stack.shape == (6, 32, 32)
    reads = []
    original = io.fields.read_channel
    monkeypatch.setattr(
        io.fields, "read_channel", lambda p, f=None: reads.append(p) or original(p, f)
    )
    plane = stack[3].compute()
    assert len(reads) == 1
    assert plane[0, 0] == channel_value("A02", 2, "DNA")


def test_bundled_jump_target_tables_are_the_published_ones(shared_jump_target, bundled_jump_target):
    for name in (
        f"{m}_{kind}.tsv"
        for m in ("compound", "crispr", "orf")
        for kind in ("platemap", "metadata")
    ):
        assert (bundled_jump_target / name).read_bytes() == (shared_jump_target / name).read_bytes()


def test_well_metadata_matches_the_jump_target_design(tiny_plate, bundled_jump_target):
    wells = io.read_well_metadata(tiny_plate)
    assert len(wells) == 384
    tables = bundled_jump_target
    platemap = pd.read_csv(tables / "compound_platemap.tsv", sep="\t", dtype=str).fillna("")
    compounds = pd.read_csv(tables / "compound_metadata.tsv", sep="\t", dtype=str)
    expected = platemap.merge(compounds, on="broad_sample", how="left")
    merged = wells.merge(expected, left_on=WELL, right_on="well_position")
    assert (merged[BROAD_SAMPLE] == merged["broad_sample"]).all()
    treated = merged[merged["broad_sample"] != ""]
    assert (treated[PERT_INAME] == treated["pert_iname"]).all()
    assert (treated[TARGET_LIST] == treated["target_list"].fillna("")).all()
    dmso = merged[merged["broad_sample"] == ""]
    assert len(dmso) == 64
    assert (dmso[PERT_INAME] == "DMSO").all() and (dmso[CONTROL_TYPE] == "negcon").all()
    assert (wells[MODALITY] == "compound").all()
    bi2536 = wells[wells[PERT_INAME] == "BI-2536"]
    assert len(bi2536) >= 1 and bi2536[TARGET_LIST].iloc[0] == "BRD4|PLK1|PLK2|PLK3"


def test_crispr_plate_gets_genes(tmp_path):
    project = write_tiny_plate(tmp_path / "crispr", barcode="BR00118050", plate_map="crispr")
    wells = io.read_well_metadata(project)
    assert set(wells[MODALITY]) == {"crispr"}
    assert "PLK1" in set(wells[GENE]) and "BRD4" in set(wells[GENE])


def test_unknown_well_and_bad_plate_map_are_named(tiny_plate):
    wells = io.read_well_metadata(tiny_plate)
    table = pd.DataFrame({PLATE: ["BR00116991", "BR00999999"], WELL: ["A01", "A01"]})
    with pytest.raises(PlateFormatError, match="not in the plate map: BR00999999/A01"):
        io.join_well_metadata(table, wells)
    plate_map = next((tiny_plate / "metadata").rglob("*.txt"))
    plate_map.write_text(plate_map.read_text().replace("A01\t", "Z99\t", 1))
    with pytest.raises(PlateFormatError, match=f"{plate_map.name}.*Z99"):
        io.read_well_metadata(tiny_plate)


def test_real_cpjump1_field_with_two_missing_channels(real_fields):
    fields = io.index_plate(real_fields / "JUMP_plate_BR00117006")
    assert fields[[PLATE, WELL, SITE]].iloc[0].tolist() == ["BR00117006", "A01", 1]
    assert io.available_channels(fields.iloc[0].to_dict()) == ("DNA", "RNA", "AGP")
    with pytest.raises(PlateFormatError, match="has no ER image file"):
        io.read_field(fields.iloc[0])
    field = io.read_field(fields.iloc[0], missing="zeros")
    assert field.shape == (5, 1080, 1080)
    assert field[CHANNELS.index("DNA")].max() == 65535  # the saturated pixels survive


def test_real_field_with_its_own_channel_numbering(real_fields):
    folder = real_fields / "pediatric_cancer_atlas_profiling"
    fields = io.index_plate(folder, channel_map="2=ER,3=AGP,4=Mito,5=DNA,6=RNA")
    field = io.read_field(fields.iloc[0])
    dna_file = tifffile.imread(folder / "images" / "orig" / "r03c03f03p01-ch5sk1fk1fl1.tiff")
    np.testing.assert_array_equal(field[CHANNELS.index("DNA")], dna_file)
    with pytest.raises(PlateFormatError, match="unknown channel"):
        io.index_plate(folder, channel_map="5=Hoechst")


def test_a_relative_illumination_path_means_the_file_of_the_current_folder(tmp_path, monkeypatch):
    from napari_phenoscope.io.illum import read_illum_function

    for name, value in (("one", 1.0), ("two", 2.0)):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "illum.npy", np.full((4, 4), value))
    monkeypatch.chdir(tmp_path / "one")
    assert read_illum_function("illum.npy", (4, 4))[0, 0] == 1.0
    monkeypatch.chdir(tmp_path / "two")  # the same text, another file: not the cached one
    assert read_illum_function("illum.npy", (4, 4))[0, 0] == 2.0

"""Gallery layout, LoadData variants (.csv.gz, with_illum), illumination, stain TIFFs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile

from _layouts import (
    GALLERY_BATCH,
    GALLERY_PLATE,
    GALLERY_WELLS,
    illum_function,
    write_gallery_source,
)
from conftest import channel_value
from napari_phenoscope import io
from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.errors import PlateFormatError


def test_gallery_source_indexes_every_field_with_its_metadata(tmp_path):
    source = write_gallery_source(tmp_path)
    fields = io.index_plate(source)
    assert list(fields[[PLATE, WELL, SITE]].itertuples(index=False, name=None)) == [
        (GALLERY_PLATE, well, site) for well in GALLERY_WELLS for site in (1, 2)
    ]
    assert set(fields["Metadata_Source"]) == {"source_4"}
    assert set(fields["Metadata_Batch"]) == {GALLERY_BATCH}
    # the S3 folders of the CSV are found in the local tree
    path = io.channel_path(fields.iloc[0].to_dict(), "DNA")
    assert path.is_file() and str(path).startswith(str(source))


@pytest.mark.parametrize("start", ["source", "batch", "plate_csv_dir", "image_dir"])
def test_gallery_opens_from_any_folder_of_the_tree(tmp_path, start):
    source = write_gallery_source(tmp_path)
    folders = {
        "source": source,
        "batch": source / "workspace" / "load_data_csv" / GALLERY_BATCH,
        "plate_csv_dir": source / "workspace" / "load_data_csv" / GALLERY_BATCH / GALLERY_PLATE,
        "image_dir": next((source / "images" / GALLERY_BATCH / "images").glob("*/Images")),
    }
    fields = io.index_plate(folders[start])
    assert len(fields) == 6 and io.is_illum_corrected(fields.iloc[0].to_dict())


def test_with_illum_divides_each_channel_by_its_function(tmp_path):
    source = write_gallery_source(tmp_path)
    fields = io.index_plate(source)
    row = fields[(fields[WELL] == "B01") & (fields[SITE] == 2)].iloc[0]
    field = io.read_field(row)
    for index, channel in enumerate(CHANNELS):
        expected = np.rint(channel_value("B01", 2, channel) / illum_function(channel))
        np.testing.assert_array_equal(field[index], expected.astype(np.uint16))
    lazy = io.lazy_channel_stack(fields, "ER")
    np.testing.assert_array_equal(np.asarray(lazy[len(fields) - 1]), field[1])


def test_without_local_illum_files_the_plain_load_data_is_used(tmp_path):
    source = write_gallery_source(tmp_path, illum_files=False)
    fields = io.index_plate(source)
    assert not io.is_illum_corrected(fields.iloc[0].to_dict())
    assert io.read_field(fields.iloc[0])[0, 0, 0] == channel_value("A01", 1, "DNA")


def test_plain_csv_and_gz_csv_read_alike(tmp_path):
    plain = io.index_plate(write_gallery_source(tmp_path / "a", gzip=False, with_illum=False))
    gzipped = io.index_plate(write_gallery_source(tmp_path / "b", gzip=True, with_illum=False))
    assert plain[[PLATE, WELL, SITE]].equals(gzipped[[PLATE, WELL, SITE]])
    csv = next((tmp_path / "b").rglob("load_data.csv.gz"))
    assert len(io.index_plate(csv)) == 6


def test_illum_function_of_the_wrong_shape_names_the_file(tmp_path):
    source = write_gallery_source(tmp_path)
    bad = next(source.rglob(f"{GALLERY_PLATE}_IllumRNA.npy"))
    np.save(bad, np.ones((16, 16)))
    fields = io.index_plate(source)
    with pytest.raises(PlateFormatError, match=f"{bad}.*shape \\(16, 16\\)") as error:
        io.read_field(fields.iloc[0])
    assert "\n" not in str(error.value)


def test_illum_folder_attaches_plate_functions_and_names_missing_ones(tmp_path, tiny_plate):
    fields = io.index_plate(tiny_plate)
    folder = tmp_path / "illum"
    folder.mkdir()
    for channel in CHANNELS:
        np.save(folder / f"BR00116991_Illum{channel}.npy", np.full((32, 32), 2.0))
    corrected = io.attach_illum_folder(fields, folder)
    field = io.read_field(corrected.iloc[0])
    raw = io.read_field(fields.iloc[0])
    np.testing.assert_array_equal(field, np.rint(raw / 2.0).astype(np.uint16))
    (folder / "BR00116991_IllumMito.npy").unlink()
    with pytest.raises(PlateFormatError, match="BR00116991_IllumMito.npy"):
        io.attach_illum_folder(fields, folder)


def test_illum_function_with_zeros_is_refused(tmp_path, tiny_plate):
    fields = io.index_plate(tiny_plate)
    folder = tmp_path / "illum"
    folder.mkdir()
    for channel in CHANNELS:
        np.save(folder / f"Illum{channel}.npy", np.zeros((32, 32)))
    corrected = io.attach_illum_folder(fields, folder)
    with pytest.raises(PlateFormatError, match="IllumDNA.npy has zero"):
        io.read_field(corrected.iloc[0])


def test_stain_named_tiffs_through_load_data(tmp_path):
    """The worked example of docs/layouts/stain-tiffs.md, written as the page says."""
    stains = {
        "DNA": "Hoechst",
        "ER": "ConA",
        "RNA": "SYTO14",
        "AGP": "Phalloidin",
        "Mito": "MitoTracker",
    }
    images = tmp_path / "myscreen" / "images"
    images.mkdir(parents=True)
    rows = []
    for well in ("B02", "C07"):
        for site in (0, 1):
            row = {"Metadata_Plate": "screen1", "Metadata_Well": well, "Metadata_Site": site + 1}
            for channel, stain in stains.items():
                name = f"{well}_site{site}_{stain}.tiff"
                tifffile.imwrite(
                    images / name,
                    np.full((24, 24), channel_value(well, site + 1, channel), np.uint16),
                )
                row[f"FileName_Orig{channel}"] = name
                row[f"PathName_Orig{channel}"] = "images"
            rows.append(row)
    csv = tmp_path / "myscreen" / "load_data.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    fields = io.index_plate(csv)
    field = io.read_field(fields[(fields[WELL] == "C07") & (fields[SITE] == 2)].iloc[0])
    assert [int(field[i, 0, 0]) for i in range(5)] == [
        channel_value("C07", 2, channel) for channel in CHANNELS
    ]


def test_load_data_site_that_is_not_a_number_names_the_column(tmp_path):
    csv = tmp_path / "load_data.csv"
    csv.write_text(
        "Metadata_Plate,Metadata_Well,Metadata_Site,FileName_OrigDNA,PathName_OrigDNA\n"
        "P,A01,one,a.tiff,.\n"
    )
    with pytest.raises(PlateFormatError, match="Metadata_Site"):
        io.index_plate(csv)


def test_real_fields_through_a_gallery_load_data(tmp_path, real_fields):
    """Both real fields, indexed through a Gallery tree whose CSV points at S3."""
    source = tmp_path / "source_4"
    numbering = {
        "JUMP_plate_BR00117006": {"Mito": 1, "AGP": 2, "RNA": 3, "ER": 4, "DNA": 5},
        "pediatric_cancer_atlas_profiling": {"ER": 2, "AGP": 3, "Mito": 4, "DNA": 5, "RNA": 6},
    }
    for batch, (folder, numbers) in enumerate(numbering.items()):
        originals = sorted((real_fields / folder / "images" / "orig").glob("*.tiff"))
        plate = f"PLATE{batch}"
        images = source / "images" / "batch" / "images" / f"{plate}__t" / "Images"
        images.mkdir(parents=True)
        row = {"Metadata_Plate": plate, "Metadata_Well": "A01", "Metadata_Site": 1}
        for channel, number in numbers.items():
            match = [p for p in originals if f"-ch{number}sk" in p.name]
            if not match:
                continue  # the JUMP field lacks ER and Mito
            (images / match[0].name).symlink_to(match[0])
            row[f"FileName_Orig{channel}"] = match[0].name
            row[f"PathName_Orig{channel}"] = (
                f"s3://bucket/x/source_4/images/batch/images/{plate}__t/Images"
            )
        csv_dir = source / "workspace" / "load_data_csv" / "batch" / plate
        csv_dir.mkdir(parents=True)
        pd.DataFrame([row]).to_csv(csv_dir / "load_data.csv.gz", index=False)
    fields = io.index_plate(source)
    assert fields[PLATE].tolist() == ["PLATE0", "PLATE1"]
    jump = io.read_field(fields.iloc[0], missing="zeros")
    pediatric = io.read_field(fields.iloc[1])
    assert jump.shape == pediatric.shape == (5, 1080, 1080)
    assert jump[1].max() == 0 and jump[0].max() == 65535  # ER missing; DNA saturates
    assert all(pediatric[i].std() > 0 for i in range(5))
    with pytest.raises(PlateFormatError, match="has no ER image file"):
        io.read_field(fields.iloc[0])

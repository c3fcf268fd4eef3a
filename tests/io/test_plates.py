"""index_plate's dispatch (io/plates.py): which paths it tries, and the package re-export."""

from __future__ import annotations

from napari_phenoscope import io
from napari_phenoscope.io import plates


def test_the_package_re_exports_the_dispatcher():
    assert io.index_plate is plates.index_plate
    assert io.is_plate_path is plates.is_plate_path


def test_is_plate_path_reads_no_pixels_and_refuses_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("not a plate")
    assert plates.is_plate_path(tmp_path)  # any folder is worth a try
    assert plates.is_plate_path(tmp_path / "load_data.csv.gz")
    assert plates.is_plate_path(tmp_path / "field.TIFF")
    assert plates.is_plate_path("s3://cellpainting-gallery/cpg0016-jump/source_4/")
    assert not plates.is_plate_path(tmp_path / "notes.txt")


def test_a_phenix_channel_file_indexes_its_whole_field(tiny_plate):
    one_file = next((tiny_plate / "images").rglob("*-ch1sk1fk1fl1.tiff"))
    field = plates.index_plate(one_file)
    assert len(field) == 1
    assert field.filter(like="FileName_").notna().all(axis=None)
    assert plates.index_phenix_folder_file(tiny_plate / "images" / "x.csv", None) is None

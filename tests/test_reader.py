"""npe2 reader: plates dropped on napari open as five channel layers of the first field."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from conftest import channel_value
from napari_phenoscope._reader import napari_get_reader, read_plate
from napari_phenoscope.constants import CHANNEL_COLORMAPS, CHANNELS


def test_reader_accepts_plates_and_refuses_other_things(tiny_plate, tmp_path):
    assert napari_get_reader(str(tiny_plate)) is read_plate
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hello")
    assert napari_get_reader(str(tmp_path / "notes")) is None
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    assert napari_get_reader(str(tmp_path / "table.csv")) is None


def test_read_plate_gives_five_additive_channel_layers_of_one_field(tiny_plate, monkeypatch):
    reads = []
    original = tifffile.TiffFile.__init__

    def counted(self, path, *args, **kwargs):
        reads.append(str(path))
        original(self, path, *args, **kwargs)

    monkeypatch.setattr(tifffile.TiffFile, "__init__", counted)
    layers = read_plate(str(tiny_plate))
    # one read per channel of the first field: no other field, no plane read twice; and the
    # first channel's tags once more, for the pixel size (the layers' scale in um)
    assert len(set(reads)) == len(CHANNELS), reads
    assert len(reads) == len(CHANNELS) + 1 and reads.count(reads[-1]) == 2, reads
    assert [kwargs["name"] for _, kwargs, _ in layers] == list(CHANNELS)
    for data, kwargs, layer_type in layers:
        assert layer_type == "image"
        assert isinstance(data, np.ndarray) and data.shape == (32, 32)
        assert kwargs["blending"] == "additive"
        assert kwargs["scale"] == (1.0, 1.0) and kwargs["units"] == "pixel"  # size unknown
        assert kwargs["colormap"] == CHANNEL_COLORMAPS[kwargs["name"]]
        low, high = kwargs["contrast_limits"]
        assert low < high
        value = channel_value("A01", 1, kwargs["name"])
        assert int(np.asarray(data)[0, 0]) == value


def test_reader_error_is_one_line(tmp_path):
    broken = tmp_path / "broken.tiff"
    broken.write_bytes(b"not a tiff at all")
    with pytest.raises(ValueError, match="cannot read TIFF .*broken.tiff") as info:
        read_plate(str(broken))
    assert "\n" not in str(info.value)


def test_reader_opens_a_single_phenix_file_as_its_field(real_fields):
    dna = (
        real_fields / "JUMP_plate_BR00117006" / "images" / "orig" / "r01c01f01p01-ch5sk1fk1fl1.tiff"
    )
    layers = read_plate(str(dna))
    assert [kwargs["name"] for _, kwargs, _ in layers] == ["DNA", "RNA", "AGP"]
    info = layers[0][1]["metadata"]["phenoscope"]
    assert info["missing_channels"] == ["ER", "Mito"]
    np.testing.assert_array_equal(np.asarray(layers[0][0]), tifffile.imread(dna))


def test_reader_declines_tiffs_and_tables_that_are_not_plates(tmp_path):
    """napari must not offer Phenoscope for a holiday photo, a 2-D image or a table."""
    rng = np.random.default_rng(0)
    photo = tmp_path / "holiday.tif"
    tifffile.imwrite(photo, rng.integers(0, 255, (40, 60, 3), np.uint8), photometric="rgb")
    plane = tmp_path / "nuclei.tiff"
    tifffile.imwrite(plane, rng.integers(0, 4000, (40, 60), np.uint16))
    three = tmp_path / "three_channels.tif"
    tifffile.imwrite(three, rng.integers(0, 4000, (3, 40, 60), np.uint16))
    rgb_stack = tmp_path / "rgb_frames.tif"
    tifffile.imwrite(rgb_stack, rng.integers(0, 255, (5, 40, 60, 3), np.uint8))
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"not a tiff at all")
    measurements = tmp_path / "Nuclei.csv"
    measurements.write_text("ImageNumber,ObjectNumber,AreaShape_Area\n1,1,120\n")
    folder_of_photos = tmp_path / "photos"
    (folder_of_photos / "images").mkdir(parents=True)
    tifffile.imwrite(folder_of_photos / "images" / "beach.tif", np.zeros((8, 8, 3), np.uint8))
    for path in (photo, plane, three, rgb_stack, broken, measurements, folder_of_photos):
        assert napari_get_reader(str(path)) is None, path.name


def test_reader_claims_a_five_plane_stack_and_a_phenix_file(tiny_plate, tmp_path):
    stack = tmp_path / "field.tiff"
    tifffile.imwrite(stack, np.zeros((len(CHANNELS), 40, 60), np.uint16))
    assert napari_get_reader(str(stack)) is read_plate
    layers = read_plate(str(stack))
    assert [kwargs["name"] for _, kwargs, _ in layers] == list(CHANNELS)
    phenix = next(tiny_plate.rglob("r01c01f01p01-ch1*.tiff"))
    assert napari_get_reader(str(phenix)) is read_plate
    assert napari_get_reader([str(stack), str(phenix)]) is None  # one plate at a time

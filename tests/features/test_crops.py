"""Crops: centring, padding, normalisation, neighbour masking and streaming over a plate."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import tifffile
from skimage.filters import threshold_otsu
from skimage.measure import label, regionprops_table
from skimage.segmentation import expand_labels

from conftest import phenix_name
from napari_phenoscope.constants import CENTER_X, CENTER_Y, CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.features.crops import crop_origins, extract_crops, iter_plate_crops
from napari_phenoscope.features.scaling import (
    channel_percentiles,
    normalize_image,
    plate_percentiles,
)


def threshold_segmenter(image: np.ndarray) -> SimpleNamespace:
    """A small stand-in segmenter for tests: Otsu on DNA, cells = nuclei grown by 6 px."""
    dna = image[0].astype(float)
    nuclei = label(dna > threshold_otsu(dna))
    cells = expand_labels(nuclei, 6)
    props = pd.DataFrame(regionprops_table(nuclei, properties=("label", "centroid")))
    table = props.rename(columns={"centroid-0": CENTER_Y, "centroid-1": CENTER_X})
    return SimpleNamespace(nuclei=nuclei, cells=cells, table=table)


def write_demo_plate(root: Path, wells=("A01", "A02"), sites=(1,), size: int = 128) -> Path:
    """A Phenix image folder of rendered demo fields (real file layout, synthetic cells)."""
    from napari_phenoscope.demo.project import render_well_site

    images = root / "BR00000001__2020-01-01T00_00_00-Measurement1" / "Images"
    images.mkdir(parents=True)
    for well in wells:
        for site in sites:
            field = render_well_site(7, "compound", 1, well, site, size=size)
            for channel, plane in zip(CHANNELS, field.image, strict=True):
                tifffile.imwrite(images / phenix_name(well, site, channel), plane)
    return images


def random_field(seed: int = 0, shape=(5, 60, 70)) -> np.ndarray:
    return np.random.default_rng(seed).integers(100, 4000, size=shape).astype(np.uint16)


def test_crop_is_centred_on_the_nucleus():
    field = np.zeros((5, 100, 120), dtype=np.uint16)
    field[:, 37, 81] = 1000
    field[:, 10:20, 10:20] = 10  # keep the percentiles away from the marked pixel
    crops = extract_crops(field, np.array([[37.3, 80.6]]), size=16, normalization="none")
    assert crops.shape == (1, 5, 16, 16) and crops.dtype == np.float32
    peak = np.unravel_index(np.argmax(crops[0, 0]), (16, 16))
    assert peak == (8, 8)


def test_crops_are_zero_padded_at_the_border():
    field = random_field()
    crops = extract_crops(field, np.array([[0.0, 0.0]]), size=20, normalization="none")
    assert np.all(crops[0, :, :10, :] == 0) and np.all(crops[0, :, :, :10] == 0)
    np.testing.assert_array_equal(crops[0, :, 10:, 10:], field[:, :10, :10].astype(np.float32))


def test_crop_entirely_outside_is_zero_and_table_input_matches_array():
    field = random_field()
    centres = np.array([[30.0, 30.0], [500.0, 500.0]])
    table = pd.DataFrame({CENTER_Y: centres[:, 0], CENTER_X: centres[:, 1]})
    from_array = extract_crops(field, centres, size=16)
    np.testing.assert_array_equal(extract_crops(field, table, size=16), from_array)
    assert np.all(from_array[1] == 0)


def test_normalisation_removes_plate_gain_and_offset():
    field = random_field(1)
    brighter = (field.astype(np.float64) * 3 + 500).astype(np.uint16)  # another plate's gain
    centres = np.array([[20.0, 25.0], [40.0, 50.0]])
    np.testing.assert_allclose(
        extract_crops(field, centres, size=16), extract_crops(brighter, centres, size=16), atol=1e-5
    )
    normalized = normalize_image(field)
    assert normalized.min() == 0.0 and normalized.max() == 1.0


def test_channel_and_plate_percentiles():
    field = np.arange(2 * 10 * 10).reshape(2, 10, 10)
    limits = channel_percentiles(field, (0.0, 100.0))
    np.testing.assert_array_equal(limits, [[0, 99], [100, 199]])
    np.testing.assert_array_equal(channel_percentiles(np.zeros((1, 4, 4)))[0], [0.0, 1.0])
    plate = plate_percentiles([field, field + 10, field + 1000], (0.0, 100.0))
    np.testing.assert_array_equal(plate, limits + 10)  # the median field
    with pytest.raises(PlateFormatError):
        plate_percentiles([])


def test_mask_neighbours_zeroes_other_cells_only():
    field = np.full((5, 40, 40), 1000, dtype=np.uint16)
    field[:, 0, 0] = 0  # a dark pixel so that percentile scaling keeps cells at 1
    cell_labels = np.zeros((40, 40), dtype=np.int32)
    cell_labels[10:20, 10:20] = 1
    cell_labels[10:20, 20:30] = 2
    table = pd.DataFrame({"label": [1, 2], CENTER_Y: [15.0, 15.0], CENTER_X: [15.0, 25.0]})
    crops = extract_crops(
        field, table, size=20, mask_neighbours=True, cell_labels=cell_labels, normalization="none"
    )
    origin = crop_origins(np.array([[15.0, 15.0]]), 20)[0]
    own = cell_labels[origin[0] : origin[0] + 20, origin[1] : origin[1] + 20]
    assert np.all(crops[0][:, own == 2] == 0)
    assert np.all(crops[0][:, own == 1] == 1000)
    assert np.all(crops[0][:, own == 0] == 1000)  # background is not a neighbour
    assert np.all(crops[1][:, 5:15, 0:5] == 0)  # cell 1 seen from cell 2's crop
    with pytest.raises(ValueError, match="cell_labels"):
        extract_crops(field, table, mask_neighbours=True)


def test_bad_inputs_are_named():
    with pytest.raises(PlateFormatError, match="shape"):
        extract_crops(np.zeros((3, 20, 20)), np.array([[5.0, 5.0]]))
    with pytest.raises(PlateFormatError, match=CENTER_Y):
        extract_crops(np.zeros((5, 20, 20)), pd.DataFrame({"x": [1]}))
    empty = extract_crops(np.zeros((5, 20, 20)), np.zeros((0, 2)), size=8)
    assert empty.shape == (0, 5, 8, 8)


def test_iter_plate_crops_streams_batches_with_metadata(tmp_path):
    plate = write_demo_plate(tmp_path, wells=("A01", "A02"), sites=(1, 2))
    batches = list(iter_plate_crops([plate], size=32, batch_size=7, segmenter=threshold_segmenter))
    sizes = [len(batch.crops) for batch in batches]
    assert all(size == 7 for size in sizes[:-1]) and 0 < sizes[-1] <= 7
    table = pd.concat([batch.table for batch in batches], ignore_index=True)
    assert len(table) == sum(sizes)
    assert set(table[WELL]) == {"A01", "A02"} and set(table[SITE]) == {1, 2}
    assert table[PLATE].nunique() == 1
    # the oracle: the same field read and cropped by hand
    from napari_phenoscope.io import index_plate, read_field

    first = index_plate(plate).iloc[0]
    image = read_field(first)
    expected = extract_crops(image, threshold_segmenter(image).table, size=32)
    np.testing.assert_array_equal(batches[0].crops[: min(7, len(expected))], expected[:7])


def test_iter_plate_crops_rejects_an_empty_plate(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PlateFormatError):
        list(iter_plate_crops([tmp_path / "empty"], segmenter=threshold_segmenter))

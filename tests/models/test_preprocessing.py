"""The preprocessing travels with the weights, and per-plate normalisation keeps well effects."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from test_crops import threshold_segmenter, write_demo_plate

from napari_phenoscope.constants import CHANNELS, PLATE
from napari_phenoscope.errors import ModelWeightsError, PlateFormatError
from napari_phenoscope.features.crops import extract_crops
from napari_phenoscope.features.scaling import plate_limits, sample_rows
from napari_phenoscope.io import index_plate, read_field
from napari_phenoscope.models import EncoderConfig, create_encoder, embed_crops, load_encoder
from napari_phenoscope.models.preprocessing import Preprocessing
from napari_phenoscope.models.weights import save_weights
from napari_phenoscope.profiling.pipeline import encoder_normalisation
from napari_phenoscope.training.loops import TrainConfig, train

TINY = EncoderConfig(img_size=32, embed_dim=32, depth=1, num_heads=2)


def rewrite_metadata(path, change) -> None:
    """Rewrite a weights file's metadata (and drop its checksum) to simulate other writers."""
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    change(metadata)
    save_file(tensors, str(path), metadata=metadata)
    path.with_name(path.name + ".sha256").unlink(missing_ok=True)


def test_preprocessing_round_trips_through_the_weights_file(tmp_path):
    wanted = Preprocessing(
        normalization="plate",
        percentiles=(2.0, 99.0),
        crop_size=32,
        pixel_size_um=0.65,
        pooling="cls+mean",
    )
    path = tmp_path / "m.safetensors"
    save_weights(path, create_encoder(TINY), preprocessing=wanted)
    assert load_encoder(path).phenoscope_preprocessing == wanted


def test_bundled_weights_declare_their_preprocessing():
    preprocessing = load_encoder().phenoscope_preprocessing
    assert preprocessing.normalization in ("field", "plate")
    assert preprocessing.crop_size == 64 and preprocessing.pixel_size_um > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("preprocessing"), "lacks its 'preprocessing'"),
        (lambda m: m.update(preprocessing="[1, 2]"), "not a JSON object"),
        (
            lambda m: m.update(preprocessing=json.dumps({"normalization": "well"})),
            "'preprocessing' is invalid",
        ),
        (
            lambda m: m.update(preprocessing=json.dumps({"gamma": 2})),
            "unknown key 'preprocessing.gamma'",
        ),
        (
            lambda m: m.update(preprocessing=json.dumps({"crop_size": 64})),
            "'preprocessing.crop_size' 64 differs",
        ),
    ],
)
def test_missing_or_unknown_preprocessing_is_refused_naming_file_and_key(tmp_path, change, message):
    path = tmp_path / "m.safetensors"
    save_weights(path, create_encoder(TINY))
    rewrite_metadata(path, change)
    with pytest.raises(ModelWeightsError, match=message) as caught:
        load_encoder(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_pooling_recorded_in_the_weights_drives_the_embedding(tmp_path):
    encoder = create_encoder(TINY)
    path = tmp_path / "m.safetensors"
    save_weights(path, encoder, preprocessing=Preprocessing(crop_size=32, pooling="cls+mean"))
    crops = np.random.default_rng(0).random((3, 5, 32, 32), dtype=np.float32)
    both = embed_crops(load_encoder(path), crops, device="cpu")
    assert both.shape == (3, 64)
    with torch.no_grad():
        tokens = encoder.eval().forward_features(torch.from_numpy(crops))
    np.testing.assert_allclose(both[:, :32], tokens[:, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(both[:, 32:], tokens[:, 1:].mean(1).numpy(), atol=1e-5)


def test_sample_rows_spreads_over_the_plate():
    assert sample_rows(3, 24).tolist() == [0, 1, 2]
    chosen = sample_rows(1000, 24)
    assert len(chosen) == 24 and chosen[0] == 0 and chosen[-1] == 999


def test_plate_normalisation_keeps_a_well_wide_brightness_change():
    """A well whose Mito is twice as bright looks like its neighbour after per-field scaling,
    but not after per-plate scaling (the reason the encoder is trained per plate)."""
    rng = np.random.default_rng(0)
    base = rng.gamma(2.0, 100.0, size=(5, 64, 64)).astype(np.float32)
    bright = base.copy()
    bright[CHANNELS.index("Mito")] *= 2.0
    centre = np.array([[32.0, 32.0]])
    per_field = [extract_crops(img, centre, size=16) for img in (base, bright)]
    np.testing.assert_allclose(per_field[0], per_field[1], atol=1e-6)
    limits = np.median(np.stack([np.percentile(base, (1, 99.8), axis=(1, 2)).T] * 2), axis=0)
    per_plate = [
        extract_crops(img, centre, size=16, normalization=limits) for img in (base, bright)
    ]
    mito = CHANNELS.index("Mito")
    assert per_plate[1][:, mito].mean() > 1.5 * per_plate[0][:, mito].mean()
    np.testing.assert_allclose(per_plate[0][:, 0], per_plate[1][:, 0])


def test_plate_limits_and_the_pipeline_use_the_whole_plate(tmp_path):
    plate = write_demo_plate(tmp_path, wells=("A01", "A02", "B01"), sites=(1, 2), size=64)
    fields = index_plate(plate)
    limits = plate_limits(fields)
    per_field = [
        np.percentile(read_field(row, channels=CHANNELS), (1.0, 99.8), axis=(1, 2)).T
        for row in fields.to_dict("records")
    ]
    assert limits.shape == (5, 2)
    np.testing.assert_allclose(limits[:, 0], np.median([f[:, 0] for f in per_field], axis=0))
    encoder = create_encoder(TINY)
    encoder.phenoscope_preprocessing = Preprocessing(normalization="plate", crop_size=32)
    scaling = encoder_normalisation(encoder, fields)
    assert list(scaling) == list(fields[PLATE].unique())
    np.testing.assert_allclose(next(iter(scaling.values())), limits)
    encoder.phenoscope_preprocessing = Preprocessing(crop_size=32)
    assert set(encoder_normalisation(encoder, fields).values()) == {"field"}


def test_training_records_its_normalisation_and_refuses_too_few_cells(tmp_path):
    plate = write_demo_plate(tmp_path / "p", wells=("A01", "A02"), sites=(1,), size=96)
    config = TrainConfig(
        epochs=1,
        batch_size=4,
        crop_size=32,
        encoder=TINY,
        normalization="plate",
        warmup_steps=1,
        checkpoint_every=100,
    )
    out = tmp_path / "m.safetensors"
    options = {"segmenter": threshold_segmenter}
    train([plate], out, config, device="cpu", progress=False, max_steps=1, crop_options=options)
    assert load_encoder(out).phenoscope_preprocessing.normalization == "plate"
    with pytest.raises(PlateFormatError, match="fewer than one batch"):
        train(
            [plate],
            tmp_path / "n.safetensors",
            TrainConfig(batch_size=10_000, crop_size=32, encoder=TINY),
            device="cpu",
            progress=False,
            crop_options=options,
        )


def test_iter_plate_crops_accepts_plate_normalisation(tmp_path):
    from napari_phenoscope.features.crops import iter_plate_crops

    plate = write_demo_plate(tmp_path, wells=("A01", "A02"), sites=(1,), size=96)
    kwargs = {"size": 32, "segmenter": threshold_segmenter}
    per_plate = np.concatenate(
        [b.crops for b in iter_plate_crops([plate], normalization="plate", **kwargs)]
    )
    per_field = np.concatenate([b.crops for b in iter_plate_crops([plate], **kwargs)])
    assert per_plate.shape == per_field.shape and not np.allclose(per_plate, per_field)


def test_viewer_profiling_and_inspection_scale_crops_as_the_weights_say(tmp_path):
    from napari_phenoscope.models import MaskedAutoencoder
    from napari_phenoscope.profiling.pipeline import measure_field
    from napari_phenoscope.session.compute import iter_profiles
    from napari_phenoscope.session.inspect import _normalization

    plate = write_demo_plate(tmp_path, wells=("A01", "A02"), sites=(1,), size=96)
    fields = index_plate(plate)
    path = tmp_path / "plate.safetensors"
    mae = MaskedAutoencoder(create_encoder(TINY))
    wanted = Preprocessing(normalization="plate", crop_size=32)
    save_weights(path, mae.encoder, mae=mae, preprocessing=wanted)
    encoder = load_encoder(path)
    limits = plate_limits(fields)
    (result,) = iter_profiles(fields, [1], "vit", "cpu", model_path=str(path))
    row = fields.iloc[1]
    expected, columns = measure_field(
        read_field(row, channels=CHANNELS), result.key, ("vit",), encoder, normalization=limits
    )
    vit = columns["vit"]
    np.testing.assert_allclose(result.table[vit].to_numpy(), expected[vit].to_numpy(), atol=1e-5)
    field_scaled, _ = measure_field(
        read_field(row, channels=CHANNELS), result.key, ("vit",), encoder
    )
    assert not np.allclose(result.table[vit].to_numpy(), field_scaled[vit].to_numpy(), atol=1e-3)
    np.testing.assert_allclose(_normalization(encoder, result.key[0], fields, row), limits)

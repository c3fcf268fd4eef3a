"""Training: MAE lowers its loss, DINO runs end to end, resume is exact, bad inputs fail."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from test_crops import threshold_segmenter, write_demo_plate

from napari_phenoscope.cli import main
from napari_phenoscope.errors import ModelWeightsError, PlateFormatError
from napari_phenoscope.models import EncoderConfig, load_encoder, load_mae, read_weights
from napari_phenoscope.models.field_inspection import reconstruct
from napari_phenoscope.training.crop_cache import build_crop_cache
from napari_phenoscope.training.loops import TrainConfig, outputs_for, train

#: A small encoder so that the tests train in seconds on two shared cores.
TINY = EncoderConfig(img_size=32, embed_dim=64, depth=2, num_heads=2)
OPTIONS = {"segmenter": threshold_segmenter}


@pytest.fixture(scope="module")
def plate(tmp_path_factory):
    root = tmp_path_factory.mktemp("plate")
    return write_demo_plate(root, wells=("A01", "A02"), sites=(1, 2), size=128)


def config(**changes) -> TrainConfig:
    values = dict(
        epochs=2,
        batch_size=16,
        lr=2e-3,
        warmup_steps=3,
        crop_size=32,
        encoder=TINY,
        log_every=1,
        checkpoint_every=4,
    )
    values.update(changes)
    return TrainConfig(**values)


def test_crop_cache_is_built_once_and_reused(plate, tmp_path):
    crops = build_crop_cache([plate], tmp_path / "cache", size=32, progress=False, **OPTIONS)
    assert crops.shape[1:] == (5, 32, 32) and crops.dtype == np.float16 and len(crops) > 16
    stamp = (tmp_path / "cache" / "crops.f16").stat().st_mtime_ns
    again = build_crop_cache([plate], tmp_path / "cache", size=32, progress=False, **OPTIONS)
    assert (tmp_path / "cache" / "crops.f16").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again, crops)


def test_short_mae_run_lowers_the_loss(plate, tmp_path):
    out = tmp_path / "mae.safetensors"
    losses: list[float] = []
    result = train(
        [plate],
        out,
        config(epochs=6),
        device="cpu",
        progress=False,
        crop_options=OPTIONS,
        on_step=lambda step, loss: losses.append(loss),
    )
    assert result.completed and result.steps == result.total_steps == len(losses)
    assert np.mean(losses[-3:]) < 0.85 * np.mean(losses[:3])
    # the oracle: the same held-out masks reconstruct better with the trained weights
    crops = np.asarray(build_crop_cache([plate], outputs_for(out)["cache"], 32, False, **OPTIONS))
    crops = crops[:32].astype(np.float32)
    torch.manual_seed(0)
    from napari_phenoscope.models import MaskedAutoencoder, create_encoder

    untrained = MaskedAutoencoder(create_encoder(TINY)).eval()
    assert (
        reconstruct(load_mae(out), crops, seed=5).loss < reconstruct(untrained, crops, seed=5).loss
    )
    with open(result.loss_log) as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == list(range(1, result.steps + 1))
    training = read_weights(out).metadata["training"]
    assert training["n_cells"] == result.n_cells and training["steps"] == result.steps


def test_resume_after_interruption_matches_an_uninterrupted_run(plate, tmp_path):
    straight = tmp_path / "straight.safetensors"
    small = config(batch_size=8)
    train([plate], straight, small, device="cpu", progress=False, crop_options=OPTIONS)
    resumed = tmp_path / "resumed.safetensors"
    first = train(
        [plate], resumed, small, device="cpu", progress=False, max_steps=5, crop_options=OPTIONS
    )
    assert not first.completed and first.steps == 5 and first.total_steps > 5
    second = train(
        [plate],
        resumed,
        small,
        device="cpu",
        progress=False,
        resume=first.checkpoint,
        crop_options=OPTIONS,
    )
    assert second.completed and second.steps == second.total_steps
    expected, actual = read_weights(straight).tensors, read_weights(resumed).tensors
    assert expected.keys() == actual.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(actual[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    with open(second.loss_log) as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    assert steps == list(range(1, second.steps + 1))


def test_dino_runs_end_to_end_and_embeds_with_its_cls_token(plate, tmp_path):
    out = tmp_path / "dino.safetensors"
    losses: list[float] = []
    result = train(
        [plate],
        out,
        config(method="dino", epochs=1),
        device="cpu",
        progress=False,
        crop_options=OPTIONS,
        on_step=lambda step, loss: losses.append(loss),
    )
    assert result.completed and len(losses) == result.steps > 0
    assert all(np.isfinite(losses)) and 0 < losses[0] < np.log(1024) * 1.5
    encoder = load_encoder(out)
    assert encoder.phenoscope_method == "dino"
    with pytest.raises(ModelWeightsError, match="no MAE decoder"):
        load_mae(out)
    with pytest.raises(ModelWeightsError, match="mae"):  # a DINO checkpoint for an MAE run
        train(
            [plate],
            tmp_path / "m.safetensors",
            config(),
            device="cpu",
            progress=False,
            resume=result.checkpoint,
            crop_options=OPTIONS,
        )


def test_bad_inputs_give_clear_errors(plate, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PlateFormatError, match="empty"):
        train([empty], tmp_path / "x.safetensors", config(), progress=False, crop_options=OPTIONS)

    def no_cells(image):
        result = threshold_segmenter(image)
        result.table = result.table.iloc[:0]
        return result

    with pytest.raises(PlateFormatError, match="no cells"):
        train(
            [plate],
            tmp_path / "y.safetensors",
            config(),
            progress=False,
            crop_options={"segmenter": no_cells},
        )
    partial = train(
        [plate],
        tmp_path / "p.safetensors",
        config(),
        progress=False,
        max_steps=1,
        crop_options=OPTIONS,
    )
    with pytest.raises(PlateFormatError, match="same plates"):
        train(
            [plate],
            tmp_path / "q.safetensors",
            config(),
            progress=False,
            resume=partial.checkpoint,
            crop_options={**OPTIONS, "max_fields": 1},
        )
    garbage = tmp_path / "garbage.ckpt.safetensors"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelWeightsError, match="not readable"):
        train(
            [plate],
            tmp_path / "z.safetensors",
            config(),
            progress=False,
            resume=garbage,
            crop_options=OPTIONS,
        )


def test_cli_train_reports_errors_in_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["train", str(empty), "--out", str(tmp_path / "m.safetensors"), "--no-progress"])
    assert code == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_cli_train_on_a_plate_with_the_real_segmenter(plate, tmp_path, capsys):
    out = tmp_path / "cli.safetensors"
    code = main(
        [
            "train",
            str(plate),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--batch-size",
            "8",  # one field holds ~10 cells; fewer cells than a batch is refused
            "--max-fields",
            "1",
            "--no-progress",
            "--crop-size",
            "32",
            "--device",
            "cpu",
        ]
    )
    assert code == 0 and "mae:" in capsys.readouterr().out
    assert load_encoder(out).patch_embed.img_size == (32, 32)


def test_fine_tuning_starts_from_the_init_weights(plate, tmp_path):
    pretrained = tmp_path / "pretrained.safetensors"
    train([plate], pretrained, config(epochs=1), progress=False, crop_options=OPTIONS)
    expected = read_weights(pretrained).tensors
    for method in ("mae", "dino"):
        out = tmp_path / f"tuned_{method}.safetensors"
        result = train(
            [plate],
            out,
            config(method=method, crop_size=64),
            init=pretrained,
            progress=False,
            max_steps=0,
            crop_options=OPTIONS,
        )
        assert result.steps == 0
        tuned = read_weights(out)
        assert tuned.metadata["training"]["init"].startswith("pretrained.safetensors sha256:")
        names = [n for n in expected if method == "mae" or n.startswith("encoder.")]
        for name in names:  # crop size 64 was replaced by the init's 32
            torch.testing.assert_close(tuned.tensors[name], expected[name], msg=name)

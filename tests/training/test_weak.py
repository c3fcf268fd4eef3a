"""Weak supervision from plate maps: labels from the plate map, balanced batches, loss falls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from test_crops import threshold_segmenter

from napari_phenoscope.cli import main
from napari_phenoscope.constants import PLATE, WELL
from napari_phenoscope.demo.project import write_demo_plates
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.models import EncoderConfig, embed_crops, load_encoder, read_weights
from napari_phenoscope.training.crop_cache import read_cache_cells
from napari_phenoscope.training.loops import TrainConfig, outputs_for, train
from napari_phenoscope.training.weak import (
    CONTROL_LABEL,
    CellLabels,
    balanced_batch,
    cell_labels,
    well_labels,
)

TINY = EncoderConfig(img_size=32, embed_dim=64, depth=2, num_heads=2)
OPTIONS = {"segmenter": threshold_segmenter}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Three one-replicate demo plates (compound, CRISPR, ORF) of 12 small wells each."""
    root = tmp_path_factory.mktemp("weak") / "project"
    write_demo_plates(root, seed=4, n_wells=12, n_sites=1, size=128, n_replicates=1, progress=False)
    return root


def weak_config(**changes) -> TrainConfig:
    values = dict(
        method="weak",
        epochs=12,
        batch_size=32,
        lr=3e-3,
        warmup_steps=3,
        crop_size=32,
        encoder=TINY,
        log_every=1,
        checkpoint_every=5,
    )
    values.update(changes)
    return TrainConfig(**values)


def test_labels_come_from_the_plate_map_with_controls_as_one_class(project):
    wells = well_labels([project], "Metadata_broad_sample")
    cells = wells[[PLATE, WELL]].iloc[[0, 1, 2, 0]]
    labels = cell_labels(wells, cells, "Metadata_broad_sample")
    assert labels.labels[0] == labels.labels[3] and len(labels.classes) >= 2
    assert CONTROL_LABEL in set(wells["label"])  # DMSO / negcon wells have no broad_sample
    assert not (wells["label"] == "").any()


def test_balanced_batches_even_out_labels_and_plates():
    # label 0: 900 cells on plate 0 and 10 on plate 1; label 1: 20 cells on plate 1
    labels = CellLabels(
        labels=np.array([0] * 910 + [1] * 20),
        plates=np.array([0] * 900 + [1] * 10 + [1] * 20),
        classes=("control", "drug"),
    )
    batch = balanced_batch(labels, 4000, np.random.default_rng(0))
    assert abs((labels.labels[batch] == 1).mean() - 0.5) < 0.05
    control = batch[labels.labels[batch] == 0]
    assert abs((labels.plates[control] == 1).mean() - 0.5) < 0.05


def test_short_weak_run_lowers_the_loss_and_writes_an_encoder(project, tmp_path):
    out = tmp_path / "weak.safetensors"
    losses: list[float] = []
    result = train(
        [project],
        out,
        weak_config(),
        device="cpu",
        progress=False,
        crop_options=OPTIONS,
        on_step=lambda step, loss: losses.append(loss),
    )
    assert result.completed and len(losses) == result.total_steps >= 12
    assert np.mean(losses[-3:]) < 0.85 * np.mean(losses[:3])
    weights = read_weights(out)
    assert weights.method == "weak" and not any(k.startswith("decoder") for k in weights.tensors)
    cells = read_cache_cells(outputs_for(out)["cache"])
    assert len(cells) == result.n_cells and {PLATE, WELL} <= set(cells.columns)
    encoder = load_encoder(out)
    crops = np.random.default_rng(0).normal(size=(3, 5, 32, 32)).astype(np.float32)
    assert embed_crops(encoder, crops, device="cpu").shape == (3, 64)


def test_weak_run_resumes_exactly(project, tmp_path):
    whole = train(
        [project],
        tmp_path / "a.safetensors",
        weak_config(epochs=2),
        device="cpu",
        progress=False,
        crop_options=OPTIONS,
    )
    first = train(
        [project],
        tmp_path / "b.safetensors",
        weak_config(epochs=2),
        device="cpu",
        progress=False,
        crop_options=OPTIONS,
        max_steps=3,
    )
    assert not first.completed
    resumed = train(
        [project],
        tmp_path / "b.safetensors",
        weak_config(epochs=2),
        device="cpu",
        progress=False,
        crop_options=OPTIONS,
        resume=first.checkpoint,
    )
    assert resumed.completed and resumed.steps == whole.steps
    a = pd.read_csv(whole.loss_log)["loss"].to_numpy()
    b = pd.read_csv(resumed.loss_log)["loss"].to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5)
    expected, actual = read_weights(whole.weights).tensors, read_weights(resumed.weights).tensors
    assert expected.keys() == actual.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(actual[name], tensor, rtol=1e-5, atol=1e-6, msg=name)


def test_a_bad_label_column_fails_before_cropping_naming_it(project, tmp_path):
    out = tmp_path / "bad.safetensors"
    with pytest.raises(PlateFormatError, match="Metadata_nonsense.*Metadata_broad_sample"):
        train(
            [project],
            out,
            weak_config(label_column="Metadata_nonsense"),
            device="cpu",
            progress=False,
            crop_options=OPTIONS,
        )
    assert not outputs_for(out)["cache"].exists()


def test_cli_weak_with_a_bad_label_column_prints_one_line(project, tmp_path, capsys):
    code = main(
        [
            "train",
            str(project),
            "--method",
            "weak",
            "--label-column",
            "Metadata_nope",
            "--out",
            str(tmp_path / "m.safetensors"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Metadata_nope" in err[0]

# Long (~440 lines): one train() runs MAE, DINO and weak supervision through the same seeded,
# resumable steps and checkpoints; the methods' own parts are in models/ and weak.py.
"""Training (self-supervised MAE or DINO, or weakly supervised by plate maps) on plates' cells.

The crops are read from the training crop cache (``training.crop_cache``: every cell cropped
once, exactly as at inference, to ``MODEL.crops/``).

Every step is deterministic given the seed: the epoch's shuffle, the masks / views and the
augmentations come from generators seeded by (seed, epoch) and (seed, step), and the
learning rate is a pure function of the step. A run resumed from a checkpoint therefore
continues exactly where the interrupted one stopped. Checkpoints (``models.checkpoint``)
are safetensors (model, optimiser moments, DINO centre) with a JSON header; nothing is
pickled.

``method="weak"`` classifies each cell's treatment (``training.weak``: labels from the plate
maps, balanced batches over labels and plates) and saves the encoder without its head.

Outputs beside ``MODEL.safetensors``: ``MODEL.losses.csv`` (step, epoch, loss, lr, seconds),
``MODEL.ckpt.safetensors`` (latest checkpoint) and the weights' ``.sha256``.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from napari_phenoscope.constants import BROAD_SAMPLE
from napari_phenoscope.errors import ModelWeightsError, PlateFormatError
from napari_phenoscope.features.crops import DEFAULT_CROP_SIZE
from napari_phenoscope.models import (
    DEFAULT_CONFIG,
    EncoderConfig,
    MaskedAutoencoder,
    create_encoder,
    load_encoder,
    load_mae,
    read_weights,
    resolve_device,
    resolve_weights,
    save_weights,
)
from napari_phenoscope.models.checkpoint import load_checkpoint, save_checkpoint
from napari_phenoscope.models.dino import Dino, DinoConfig
from napari_phenoscope.models.preprocessing import DEMO_PIXEL_SIZE_UM, Preprocessing, Scope
from napari_phenoscope.models.weights import sha256_of
from napari_phenoscope.training.crop_cache import build_crop_cache, read_cache_cells
from napari_phenoscope.training.weak import (
    CellLabels,
    WeakClassifier,
    balanced_batch,
    cell_labels,
    well_labels,
)

Method = Literal["mae", "dino", "weak"]


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (the defaults trained the bundled MAE)."""

    method: Method = "mae"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    min_lr: float = 1e-5
    weight_decay: float = 0.05
    warmup_steps: int = 200
    seed: int = 0
    crop_size: int = DEFAULT_CROP_SIZE
    checkpoint_every: int = 500
    log_every: int = 10
    encoder: EncoderConfig = DEFAULT_CONFIG
    #: Crop intensity scaling (``"field"`` or ``"plate"``), stored in the weights.
    normalization: Scope = "field"
    #: Physical pixel size of the training images (um), stored in the weights.
    pixel_size_um: float = DEMO_PIXEL_SIZE_UM
    #: DINO's per-channel gain jitter of the views. It teaches invariance to channel
    #: brightness, which per-field normalisation made moot and which erases intensity
    #: phenotypes once crops are scaled per plate.
    dino_intensity_jitter: float = 0.2
    #: Weak supervision: the plate-map column whose values are the classes.
    label_column: str = BROAD_SAMPLE

    def preprocessing(self) -> Preprocessing:
        """What the trained weights will record: the crops as this run cuts them."""
        return Preprocessing(
            normalization=self.normalization,
            crop_size=self.crop_size,
            pixel_size_um=self.pixel_size_um,
            pooling="cls" if self.method == "dino" else "mean",
        )


@dataclass
class TrainResult:
    """What a run produced: weights, logs, and how far it got."""

    weights: Path
    checkpoint: Path
    loss_log: Path
    n_cells: int
    steps: int
    total_steps: int
    first_loss: float
    last_loss: float
    completed: bool


def outputs_for(out: str | Path) -> dict[str, Path]:
    """Paths written beside ``MODEL.safetensors``."""
    out = Path(out)
    stem = out.name[: -len(".safetensors")] if out.name.endswith(".safetensors") else out.name
    return {
        "cache": out.with_name(f"{stem}.crops"),
        "checkpoint": out.with_name(f"{stem}.ckpt.safetensors"),
        "losses": out.with_name(f"{stem}.losses.csv"),
    }


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random flips and 90-degree rotations per sample (cells have no orientation)."""
    flips = torch.rand(len(images), generator=generator) < 0.5
    images = torch.where(flips[:, None, None, None].to(images.device), images.flip(-1), images)
    turns = torch.randint(0, 4, (len(images),), generator=generator)
    rotated = images.clone()
    for k in (1, 2, 3):
        chosen = (turns == k).nonzero().flatten().to(images.device)
        if len(chosen):
            rotated[chosen] = torch.rot90(images[chosen], k, dims=(-2, -1))
    return rotated


def learning_rate(step: int, total_steps: int, config: TrainConfig) -> float:
    """Linear warm-up then cosine decay to ``min_lr`` (a pure function of the step)."""
    warmup = min(config.warmup_steps, max(total_steps // 5, 1))
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(total_steps - warmup, 1)
    return config.min_lr + (config.lr - config.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


# --- the loop ------------------------------------------------------------------------------


def _build(
    config: TrainConfig, init: Path | None = None, labels: CellLabels | None = None
) -> tuple[torch.nn.Module, list[torch.nn.Parameter]]:
    """The model to train, fresh or from ``init`` weights (a DINO teacher starts as a copy)."""
    encoder = create_encoder(replace(config.encoder, img_size=config.crop_size))
    if init is not None:
        _load_init(encoder, load_encoder(init).state_dict(), init)
    if config.method == "mae":
        model: torch.nn.Module = MaskedAutoencoder(encoder)
        if init is not None and read_weights(init).metadata.get("decoder_config"):
            _load_init(model, load_mae(init).state_dict(), init)
        return model, list(model.parameters())
    if config.method == "weak":
        assert labels is not None  # train() reads them before building
        classifier = WeakClassifier(encoder, len(labels.classes), config.preprocessing().pooling)
        return classifier, list(classifier.parameters())
    if config.method == "dino":
        dino = Dino(encoder, DinoConfig(intensity_jitter=config.dino_intensity_jitter))
        return dino, dino.student_parameters()
    raise ValueError(f"method must be 'mae', 'dino' or 'weak', not {config.method!r}")


def _load_init(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        detail = str(error).strip().splitlines()[0]
        raise ModelWeightsError(f"weights file {path} does not fit the model: {detail}") from error


def _step_generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU generator seeded by (seed, keys...), independent of any earlier draw."""
    mixed = np.random.SeedSequence([seed, *keys]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(mixed))


def train(
    plate_dirs: Sequence[str | Path],
    out: str | Path,
    config: TrainConfig = TrainConfig(),  # noqa: B008 - frozen dataclass
    device: str = "auto",
    resume: str | Path | None = None,
    init: str | Path | None = None,
    progress: bool = True,
    max_steps: int | None = None,
    max_minutes: float | None = None,
    crop_options: dict[str, Any] | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train an encoder with MAE or DINO on the cells of plate folders.

    Parameters
    ----------
    plate_dirs
        Plate or project folders (anything ``io.index_plate`` reads).
    out
        Output weights ``MODEL.safetensors`` (see ``models.load_encoder``).
    config
        Hyper-parameters, method and seed.
    device
        ``"auto"`` (CUDA if present, with bf16 autocast), ``"cpu"`` or ``"cuda"``.
    resume
        A checkpoint (``MODEL.ckpt.safetensors``) to continue from.
    init
        Weights to start from (fine-tuning), a file or ``"bundled"``; their encoder
        configuration and crop size replace those of ``config``. An MAE run also starts
        from their decoder when they have one.
    progress
        Show tqdm progress bars.
    max_steps, max_minutes
        Stop early (with a checkpoint and weights) after this many steps in all / minutes
        in this run; the schedule still spans ``config.epochs``, so ``resume`` continues it.
    crop_options
        Extra ``iter_plate_crops`` options (``channel_map``, ``missing``, ``max_fields``,
        ``mask_neighbours``).
    on_step
        Called with (step, loss) after every step.

    Returns
    -------
    TrainResult
    """
    from tqdm.auto import tqdm

    started = time.monotonic()
    paths = outputs_for(out)
    if init is not None:
        init = resolve_weights(init)
        pretrained = load_encoder(init).phenoscope_config
        config = replace(config, encoder=pretrained, crop_size=pretrained.img_size)
    # a wrong label column fails here, before any cell is cropped
    wells = well_labels(plate_dirs, config.label_column) if config.method == "weak" else None
    crops = build_crop_cache(
        plate_dirs,
        paths["cache"],
        config.crop_size,
        progress,
        normalization=config.normalization,
        **(crop_options or {}),
    )
    batch_size = config.batch_size
    steps_per_epoch = len(crops) // batch_size
    total_steps = steps_per_epoch * config.epochs
    labels = None
    if wells is not None:
        labels = cell_labels(wells, read_cache_cells(paths["cache"]), config.label_column)
    torch.manual_seed(config.seed)
    model, parameters = _build(config, init, labels)
    target = resolve_device(device)
    model.to(target)
    optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    step, history, recent = 0, [], []
    if resume is not None:
        state = load_checkpoint(resume, model, optimizer, config.method)
        if int(state.get("n_cells", len(crops))) != len(crops):
            raise PlateFormatError(
                f"checkpoint {resume} was trained on {state['n_cells']} cells, but these "
                f"plates give {len(crops)}: resume with the same plates and crop options"
            )
        step, history = int(state["step"]), list(state.get("history", []))
        # the losses since the last logged row, so the next row averages the same steps
        recent = [float(value) for value in state.get("recent", [])]
    if len(crops) < config.batch_size:
        raise PlateFormatError(
            f"{', '.join(map(str, plate_dirs))} gave {len(crops)} cells, fewer than one batch "
            f"({config.batch_size}): add fields or lower --batch-size"
        )
    _start_loss_log(paths["losses"], step)
    bar = tqdm(
        total=total_steps, initial=step, unit="step", desc=config.method, disable=not progress
    )
    stopped_early = False
    model.train()
    try:
        while step < total_steps:
            if max_steps is not None and step >= max_steps:
                stopped_early = True
                break
            if max_minutes is not None and time.monotonic() - started > 60 * max_minutes:
                stopped_early = True
                break
            epoch, position = divmod(step, steps_per_epoch)
            if labels is not None:
                draw = np.random.default_rng([config.seed, 2_000_000 + step])
                chosen = np.sort(balanced_batch(labels, batch_size, draw))
            else:
                order = torch.randperm(len(crops), generator=_step_generator(config.seed, epoch))
                chosen = np.sort(order[position * batch_size : (position + 1) * batch_size].numpy())
            generator = _step_generator(config.seed, 1_000_000 + step)
            images = torch.from_numpy(np.asarray(crops[chosen], dtype=np.float32)).to(target)
            images = augment(images, generator)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, total_steps, config)
            with torch.autocast(target.type, dtype=torch.bfloat16, enabled=target.type == "cuda"):
                if labels is not None:
                    output = model(images, torch.from_numpy(labels.labels[chosen]).to(target))
                else:
                    output = model(images, generator=generator)
            loss = output if config.method == "dino" else output[0]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if config.method == "dino":
                model.update_teacher(step / max(total_steps - 1, 1))
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(f"{config.method} loss became {value} at step {step}")
            step += 1
            recent.append(value)
            if on_step is not None:
                on_step(step, value)
            if step % config.log_every == 0 or step == total_steps:
                row = [step, epoch, float(np.mean(recent)), optimizer.param_groups[0]["lr"]]
                history.append(row)
                _append_loss(paths["losses"], [*row, round(time.monotonic() - started, 1)])
                bar.set_postfix(loss=f"{row[2]:.4f}")
                recent = []
            if step % config.checkpoint_every == 0:
                _checkpoint(
                    paths["checkpoint"], model, optimizer, step, config, history, recent, crops
                )
            bar.update(1)
    except KeyboardInterrupt:
        _checkpoint(paths["checkpoint"], model, optimizer, step, config, history, recent, crops)
        raise
    finally:
        bar.close()
    _checkpoint(paths["checkpoint"], model, optimizer, step, config, history, recent, crops)
    summary = _summary(config, plate_dirs, len(crops), step, total_steps, history, target)
    summary["seconds_this_run"] = round(time.monotonic() - started, 1)
    summary["init"] = None if init is None else f"{Path(init).name} sha256:{sha256_of(init)}"
    if config.method == "mae":
        save_weights(
            out,
            model.encoder,
            mae=model,
            method="mae",
            training=summary,
            preprocessing=config.preprocessing(),
        )
    elif config.method == "weak":
        summary["classes"] = len(labels.classes)
        save_weights(
            out,
            model.encoder,
            method="weak",
            training=summary,
            preprocessing=config.preprocessing(),
        )
    else:
        save_weights(
            out,
            model.teacher,
            method="dino",
            training=summary,
            preprocessing=config.preprocessing(),
        )
    losses = [row[2] for row in history]
    return TrainResult(
        weights=Path(out),
        checkpoint=paths["checkpoint"],
        loss_log=paths["losses"],
        n_cells=len(crops),
        steps=step,
        total_steps=total_steps,
        first_loss=losses[0] if losses else float("nan"),
        last_loss=losses[-1] if losses else float("nan"),
        completed=step >= total_steps and not stopped_early,
    )


def _checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    config: TrainConfig,
    history: list,
    recent: list[float],
    crops: np.ndarray,
) -> None:
    state = {
        "step": step,
        "config": asdict(config),
        "history": history,
        "recent": recent,
        "n_cells": len(crops),
    }
    save_checkpoint(path, model, optimizer, state)


def _summary(
    config: TrainConfig,
    plate_dirs: Sequence[str | Path],
    n_cells: int,
    step: int,
    total_steps: int,
    history: list,
    device: torch.device,
) -> dict[str, Any]:
    steps_per_epoch = max(total_steps // max(config.epochs, 1), 1)
    return {
        "config": asdict(config),
        "plates": [Path(p).name for p in plate_dirs],
        "n_cells": n_cells,
        "steps": step,
        "total_steps": total_steps,
        "epochs_done": round(step / steps_per_epoch, 2),
        "device": str(device),
        "loss_first": history[0][2] if history else None,
        "loss_last": history[-1][2] if history else None,
    }


def _start_loss_log(path: Path, step: int) -> None:
    """Start the CSV, or keep the rows up to ``step`` of an interrupted run being resumed."""
    header = ["step", "epoch", "loss", "lr", "seconds"]
    rows: list[list[str]] = []
    if step > 0 and path.is_file():
        with open(path, newline="") as handle:
            rows = [row for row in list(csv.reader(handle))[1:] if int(row[0]) <= step]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _append_loss(path: Path, row: list) -> None:
    with open(path, "a", newline="") as handle:
        csv.writer(handle).writerow(row)

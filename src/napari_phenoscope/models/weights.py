"""Weights files: safetensors with a JSON metadata header and a SHA-256 beside them.

Nothing here unpickles: tensors are read with ``safetensors`` only, so a weights file can
not run code. A file ``MODEL.safetensors`` has a sidecar ``MODEL.safetensors.sha256``
(``sha256sum`` format); when present (always, for the bundled weights) the digest is
checked before the tensors are read, so a truncated or altered file is refused.

Tensor names: ``encoder.*`` (a timm ``VisionTransformer`` state dict), ``decoder.*`` (the
MAE decoder, for reconstructions). A plain timm ViT state dict (no prefix, no metadata)
with five input channels is accepted too; its configuration is inferred from the shapes.
Which file a name means (the bundled weights) is ``registry.py``'s business, as timm keeps
``_registry`` / ``_pretrained`` apart from its builders.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from timm.models.vision_transformer import VisionTransformer

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.errors import ModelWeightsError
from napari_phenoscope.models.mae import DecoderConfig, MaskedAutoencoder
from napari_phenoscope.models.preprocessing import PREPROCESSING_KEY, Preprocessing

# the registry's names stay importable from here, where they lived before registry.py
from napari_phenoscope.models.registry import (  # noqa: F401
    BUNDLED_MODELS,
    BUNDLED_WEIGHTS,
    DEFAULT_MODEL,
    bundled_weights_path,
    resolve_weights,
)
from napari_phenoscope.models.vit import EncoderConfig, create_encoder

FORMAT = "napari-phenoscope-weights/1"
ENCODER_PREFIX = "encoder."
DECODER_PREFIX = "decoder."


@dataclass
class WeightsFile:
    """Tensors and metadata of a weights file."""

    path: Path
    tensors: dict[str, torch.Tensor]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        """Training method recorded in the file (``"mae"``, ``"dino"`` or ``"unknown"``)."""
        return str(self.metadata.get("method", "unknown"))


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_path(path: str | Path) -> Path:
    """The sidecar ``<file>.sha256`` of a weights file."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def save_weights(
    path: str | Path,
    encoder: VisionTransformer,
    mae: MaskedAutoencoder | None = None,
    method: str = "mae",
    training: dict[str, Any] | None = None,
    config: EncoderConfig | None = None,
    preprocessing: Preprocessing | None = None,
) -> str:
    """Write an encoder (and optionally its MAE decoder) to safetensors plus a ``.sha256``.

    Parameters
    ----------
    path
        Output ``.safetensors`` file (its folder is created).
    encoder
        The ViT encoder.
    mae
        The MAE whose decoder is saved too (needed for reconstructions).
    method
        ``"mae"`` or ``"dino"``: recorded, and decides the default embedding pooling.
    training
        Training summary stored as JSON (data, epochs, losses...).
    config
        The encoder configuration (read from the encoder when omitted).
    preprocessing
        How the encoder's crops were made (``models.preprocessing``); stored under
        ``preprocessing`` and applied by every loader. Default: per-field normalisation,
        crops of the encoder's input size, demo pixel size, mean pooling (``"cls"`` for DINO).

    Returns
    -------
    str
        The SHA-256 of the written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = config or config_of(encoder)
    if preprocessing is None:
        pooling = "cls" if method == "dino" else "mean"
        preprocessing = Preprocessing(crop_size=config.img_size, pooling=pooling)
    if preprocessing.crop_size != config.img_size:
        raise ModelWeightsError(
            f"preprocessing crop size {preprocessing.crop_size} differs from the encoder's "
            f"input size {config.img_size}"
        )
    tensors = {ENCODER_PREFIX + k: v for k, v in encoder.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "method": method,
        "encoder_config": config.to_json(),
        "channels": json.dumps(list(CHANNELS)),
        "crop_size": str(config.img_size),
        PREPROCESSING_KEY: preprocessing.to_json(),
        "training": json.dumps(training or {}, sort_keys=True),
    }
    if mae is not None:
        for key, value in mae.state_dict().items():
            if not key.startswith(ENCODER_PREFIX):
                tensors[DECODER_PREFIX + key] = value
        metadata["decoder_config"] = json.dumps(mae.decoder_config_dict())
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    temporary = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(temporary), metadata=metadata)
    # never a stale or half-written digest beside the new weights, even if killed here
    checksum_path(path).unlink(missing_ok=True)
    temporary.replace(path)
    path.chmod(0o644)  # safetensors writes 0600; weights are meant to be shared / packaged
    digest = sha256_of(path)
    sidecar = path.with_name(f".{checksum_path(path).name}.tmp")
    sidecar.write_text(f"{digest}  {path.name}\n")
    sidecar.replace(checksum_path(path))
    return digest


def read_weights(path: str | Path, expected_sha256: str | None = None) -> WeightsFile:
    """Read a safetensors weights file after checking its SHA-256.

    Parameters
    ----------
    path
        The ``.safetensors`` file.
    expected_sha256
        Digest to check; by default the sidecar ``.sha256`` if there is one.

    Raises
    ------
    ModelWeightsError
        Missing file, checksum mismatch, or not a readable safetensors file (named).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelWeightsError(f"weights file {path} does not exist")
    sidecar = checksum_path(path)
    if expected_sha256 is None and sidecar.is_file():
        expected_sha256 = sidecar.read_text().split()[0] if sidecar.read_text().split() else ""
    if expected_sha256 is not None and sha256_of(path) != expected_sha256.lower():
        raise ModelWeightsError(
            f"weights file {path} fails its SHA-256 check (corrupt or truncated?)"
        )
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelWeightsError(
            f"weights file {path} is not a readable safetensors file: {error}"
        ) from error
    decoded: dict[str, Any] = {}
    for key, value in metadata.items():
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
    return WeightsFile(path, tensors, decoded)


def config_of(encoder: VisionTransformer) -> EncoderConfig:
    """The ``EncoderConfig`` of an existing encoder."""
    mlp_hidden = encoder.blocks[0].mlp.fc1.out_features
    return EncoderConfig(
        img_size=int(encoder.patch_embed.img_size[0]),
        patch_size=int(encoder.patch_embed.patch_size[0]),
        in_chans=int(encoder.patch_embed.proj.in_channels),
        embed_dim=int(encoder.embed_dim),
        depth=len(encoder.blocks),
        num_heads=int(encoder.blocks[0].attn.num_heads),
        mlp_ratio=mlp_hidden / encoder.embed_dim,
        qkv_bias=encoder.blocks[0].attn.qkv.bias is not None,
    )


def infer_config(
    state: dict[str, torch.Tensor], path: Path, num_heads: int | None = None
) -> EncoderConfig:
    """Infer the configuration of a plain timm ViT state dict from its tensor shapes.

    Heads cannot be read from shapes: timm's ViTs use 64-dim heads, assumed unless given.
    """
    required = ("patch_embed.proj.weight", "pos_embed", "cls_token", "blocks.0.mlp.fc1.weight")
    missing = [key for key in required if key not in state]
    if missing:
        raise ModelWeightsError(f"weights file {path} is not a timm ViT (lacks {missing[0]})")
    dim, in_chans, patch, _ = state["patch_embed.proj.weight"].shape
    n_patches = state["pos_embed"].shape[1] - 1
    side = int(round(n_patches**0.5))
    if side * side != n_patches:
        raise ModelWeightsError(f"weights file {path} has a non-square position embedding")
    depth = len({key.split(".")[1] for key in state if key.startswith("blocks.")})
    return EncoderConfig(
        img_size=side * patch,
        patch_size=patch,
        in_chans=in_chans,
        embed_dim=dim,
        depth=depth,
        num_heads=num_heads or max(1, dim // 64),
        mlp_ratio=state["blocks.0.mlp.fc1.weight"].shape[0] / dim,
        qkv_bias="blocks.0.attn.qkv.bias" in state,
    )


def _split(weights: WeightsFile, prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in weights.tensors.items() if k.startswith(prefix)}


def _load_state(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise ModelWeightsError(f"weights file {path} does not fit the model: {detail}") from error


def load_encoder(
    path: str | Path | None = None,
    device: str | torch.device = "cpu",
    num_heads: int | None = None,
) -> VisionTransformer:
    """Load a five-channel ViT encoder, by default the bundled MAE-pretrained one.

    Parameters
    ----------
    path
        A phenoscope ``.safetensors`` file, or a plain timm ViT state dict saved as
        safetensors (five input channels); the bundled weights when None.
    device
        Torch device to put the encoder on.
    num_heads
        Attention heads of a plain timm state dict (default: embed_dim / 64).

    Returns
    -------
    timm.models.vision_transformer.VisionTransformer
        In eval mode, with ``phenoscope_method`` (``"mae"``, ``"dino"`` or ``"unknown"``),
        ``phenoscope_config`` and ``phenoscope_preprocessing`` (``Preprocessing``, read from
        the file; defaults for a plain timm state dict) attributes.

    Raises
    ------
    ModelWeightsError
        Missing, corrupt, truncated or mismatched file, not five input channels, or
        missing / unknown preprocessing metadata (naming the key).
    """
    path = resolve_weights(path)
    return _build_encoder(read_weights(path), num_heads).to(device).eval()


def _build_encoder(weights: WeightsFile, num_heads: int | None = None) -> VisionTransformer:
    path = weights.path
    state = _split(weights, ENCODER_PREFIX)
    if state:
        config_values = weights.metadata.get("encoder_config")
        if not isinstance(config_values, dict):
            raise ModelWeightsError(f"weights file {path} lacks its encoder_config metadata")
        config = EncoderConfig.from_dict(config_values)
        preprocessing = Preprocessing.from_metadata(weights.metadata, path)
        if preprocessing.crop_size != config.img_size:
            raise ModelWeightsError(
                f"weights file {path}: '{PREPROCESSING_KEY}.crop_size' "
                f"{preprocessing.crop_size} differs from the encoder's input size {config.img_size}"
            )
    else:  # a plain timm state dict: drop a classifier head, infer the shapes
        state = {k: v for k, v in weights.tensors.items() if not k.startswith("head.")}
        config = infer_config(state, path, num_heads)
        preprocessing = Preprocessing(crop_size=config.img_size)
    if config.in_chans != len(CHANNELS):
        raise ModelWeightsError(
            f"weights file {path} has {config.in_chans} input channels; "
            f"expected {len(CHANNELS)} ({', '.join(CHANNELS)})"
        )
    encoder = create_encoder(config)
    _load_state(encoder, state, path)
    encoder.phenoscope_method = weights.method
    encoder.phenoscope_config = config
    encoder.phenoscope_preprocessing = preprocessing
    return encoder.eval()


def load_mae(
    path: str | Path | None = None, device: str | torch.device = "cpu"
) -> MaskedAutoencoder:
    """Load an encoder and its MAE decoder (for reconstructions), bundled by default.

    Raises
    ------
    ModelWeightsError
        As ``load_encoder``, or if the file holds no MAE decoder (e.g. DINO weights).
    """
    path = resolve_weights(path)
    weights = read_weights(path)
    encoder = _build_encoder(weights)
    decoder_state = _split(weights, DECODER_PREFIX)
    decoder_values = weights.metadata.get("decoder_config")
    if not decoder_state or not isinstance(decoder_values, dict):
        raise ModelWeightsError(
            f"weights file {path} holds no MAE decoder (method {weights.method})"
        )
    mae = MaskedAutoencoder(encoder, DecoderConfig(**decoder_values))
    state = {ENCODER_PREFIX + k: v for k, v in encoder.state_dict().items()}
    state.update(decoder_state)
    _load_state(mae, state, path)
    return mae.to(device).eval()

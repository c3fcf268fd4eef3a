"""The encoder: timm's VisionTransformer with five input channels, and its configuration.

The architecture is timm's, unchanged, so that any timm ViT checkpoint with five input
channels loads into it (``weights.load_encoder``); only the configuration lives here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import torch
from timm.models.vision_transformer import VisionTransformer

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.features.crops import DEFAULT_CROP_SIZE


@dataclass(frozen=True)
class EncoderConfig:
    """Hyper-parameters of a five-channel ViT encoder (timm ``VisionTransformer`` kwargs).

    The default is a ViT-Tiny width (192) with 8 px patches on 64 px crops: 64 tokens per
    cell, 6 blocks and 6 heads of 32 dims. It is small enough to pre-train on two CPU
    cores in half an hour and to embed thousands of cells per minute on a laptop.
    """

    img_size: int = DEFAULT_CROP_SIZE
    patch_size: int = 8
    in_chans: int = len(CHANNELS)
    embed_dim: int = 192
    depth: int = 6
    num_heads: int = 6
    mlp_ratio: float = 4.0
    qkv_bias: bool = True

    @property
    def grid_size(self) -> int:
        """Patches per side of a crop."""
        return self.img_size // self.patch_size

    def to_json(self) -> str:
        """The configuration as a JSON object (stored in weights files)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict) -> EncoderConfig:
        """Build from a dict, ignoring unknown keys (forward compatible)."""
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


#: The configuration of the bundled encoder.
DEFAULT_CONFIG = EncoderConfig()


def create_encoder(config: EncoderConfig = DEFAULT_CONFIG) -> VisionTransformer:
    """Create a randomly initialised encoder (no classifier head, CLS token kept).

    ``dynamic_img_size`` lets the encoder take crops of other sizes (e.g. DINO's small
    local crops) by interpolating its position embeddings.

    Parameters
    ----------
    config
        Encoder hyper-parameters.

    Returns
    -------
    timm.models.vision_transformer.VisionTransformer
        ``forward`` returns the (B, embed_dim) CLS embedding; ``forward_features`` the
        (B, 1 + L, embed_dim) tokens.

    Examples
    --------
    >>> encoder = create_encoder(EncoderConfig(depth=1))
    >>> encoder(torch.zeros(2, 5, 64, 64)).shape
    torch.Size([2, 192])
    """
    if config.img_size % config.patch_size:
        raise ValueError(
            f"crop size {config.img_size} is not a multiple of the patch size {config.patch_size}"
        )
    return VisionTransformer(
        img_size=config.img_size,
        patch_size=config.patch_size,
        in_chans=config.in_chans,
        num_classes=0,
        global_pool="token",
        embed_dim=config.embed_dim,
        depth=config.depth,
        num_heads=config.num_heads,
        mlp_ratio=config.mlp_ratio,
        qkv_bias=config.qkv_bias,
        dynamic_img_size=True,
    )


def patch_tokens(encoder: VisionTransformer, images: torch.Tensor) -> torch.Tensor:
    """(B, L, D) patch embeddings plus position embeddings (no CLS token yet).

    Handles both the (B, H, W, D) output of a ``dynamic_img_size`` patch embedding and the
    (B, L, D) output of a fixed-size one.
    """
    tokens = encoder.patch_embed(images)
    if tokens.ndim == 4:
        batch, height, width, dim = tokens.shape
        grid = encoder.patch_embed.grid_size
        pos = encoder.pos_embed[:, encoder.num_prefix_tokens :]
        if (height, width) != tuple(grid):
            from timm.layers import resample_abs_pos_embed

            pos = resample_abs_pos_embed(pos, (height, width), tuple(grid), num_prefix_tokens=0)
        return tokens.reshape(batch, height * width, dim) + pos
    return tokens + encoder.pos_embed[:, encoder.num_prefix_tokens :]


def add_cls_token(encoder: VisionTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """Prepend the CLS token (with its position embedding) to (B, L, D) patch tokens."""
    cls = encoder.cls_token + encoder.pos_embed[:, :1]
    return torch.cat([cls.expand(tokens.shape[0], -1, -1), tokens], dim=1)

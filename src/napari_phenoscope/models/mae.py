"""Masked autoencoder (He et al. 2022) around the five-channel ViT encoder.

75 % of the 8 px patches of a crop are hidden at random; the encoder sees only the
visible ones (plus its CLS token), a light decoder (2 blocks, width 128) fills in mask
tokens and predicts the pixels of every patch, and the loss is the mean squared error on
the *normalised* pixels (each target patch minus its mean, over its standard deviation) of
the masked patches only, as in the paper's ``norm_pix_loss``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from timm.models.vision_transformer import Block, VisionTransformer
from torch import nn

from napari_phenoscope.models.vit import add_cls_token, patch_tokens

#: Fraction of patches hidden from the encoder (He et al. 2022).
MASK_RATIO = 0.75


@dataclass(frozen=True)
class DecoderConfig:
    """Hyper-parameters of the MAE decoder."""

    embed_dim: int = 128
    depth: int = 2
    num_heads: int = 4
    mlp_ratio: float = 4.0


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, L, p * p * C) patches in row-major order, pixels then channels.

    Examples
    --------
    >>> patchify(torch.zeros(2, 5, 16, 16), 8).shape
    torch.Size([2, 4, 320])
    """
    batch, channels, height, width = images.shape
    rows, cols = height // patch_size, width // patch_size
    x = images.reshape(batch, channels, rows, patch_size, cols, patch_size)
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(batch, rows * cols, patch_size * patch_size * channels)


def unpatchify(patches: torch.Tensor, patch_size: int, channels: int) -> torch.Tensor:
    """Inverse of ``patchify`` for square images: (B, L, p * p * C) -> (B, C, H, W)."""
    batch, length, _ = patches.shape
    side = int(round(length**0.5))
    x = patches.reshape(batch, side, side, patch_size, patch_size, channels)
    x = torch.einsum("nhwpqc->nchpwq", x)
    return x.reshape(batch, channels, side * patch_size, side * patch_size)


def random_masking(
    batch: int,
    length: int,
    mask_ratio: float,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Choose the visible patches of each sample uniformly at random.

    Returns
    -------
    ids_keep : torch.Tensor
        (B, L_keep) indices of the visible patches.
    mask : torch.Tensor
        (B, L) float, 1 for hidden patches, 0 for visible ones (in patch order).
    ids_restore : torch.Tensor
        (B, L) permutation that puts [visible, hidden] tokens back in patch order.
    """
    n_keep = int(round(length * (1.0 - mask_ratio)))
    noise = torch.rand(batch, length, generator=generator, device="cpu").to(device)
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :n_keep]
    mask = torch.ones(batch, length, device=device)
    mask[:, :n_keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return ids_keep, mask, ids_restore


class MaskedAutoencoder(nn.Module):
    """MAE: a timm ViT encoder on the visible patches and a light transformer decoder.

    Parameters
    ----------
    encoder
        A ``create_encoder`` ViT (its CLS token and position embeddings are used as is).
    decoder_config
        Decoder size.
    norm_pix_loss
        Compute the loss on per-patch normalised pixels (the paper's better variant).
    """

    def __init__(
        self,
        encoder: VisionTransformer,
        decoder_config: DecoderConfig = DecoderConfig(),  # noqa: B008 - frozen dataclass
        norm_pix_loss: bool = True,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder_config = decoder_config
        self.norm_pix_loss = norm_pix_loss
        self.patch_size = int(encoder.patch_embed.patch_size[0])
        self.in_chans = int(encoder.patch_embed.proj.in_channels)
        n_patches = int(encoder.patch_embed.num_patches)
        width = decoder_config.embed_dim
        self.decoder_embed = nn.Linear(encoder.embed_dim, width)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, width))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, n_patches + 1, width))
        self.decoder_blocks = nn.ModuleList(
            Block(width, decoder_config.num_heads, decoder_config.mlp_ratio, qkv_bias=True)
            for _ in range(decoder_config.depth)
        )
        self.decoder_norm = nn.LayerNorm(width)
        self.decoder_pred = nn.Linear(width, self.patch_size**2 * self.in_chans)
        nn.init.normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.decoder_pos_embed, std=0.02)

    def decoder_config_dict(self) -> dict:
        """The decoder configuration as a plain dict (for weights metadata)."""
        return asdict(self.decoder_config)

    def forward_encoder(
        self, images: torch.Tensor, mask_ratio: float, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode the visible patches; returns (latent (B, 1 + L_keep, D), mask, ids_restore)."""
        tokens = patch_tokens(self.encoder, images)
        batch, length, dim = tokens.shape
        ids_keep, mask, ids_restore = random_masking(
            batch, length, mask_ratio, generator, images.device
        )
        visible = torch.gather(tokens, 1, ids_keep.unsqueeze(-1).expand(-1, -1, dim))
        x = add_cls_token(self.encoder, visible)
        x = self.encoder.blocks(self.encoder.norm_pre(x))
        return self.encoder.norm(x), mask, ids_restore

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """Predict every patch: (B, 1 + L_keep, D) latent -> (B, L, p * p * C)."""
        x = self.decoder_embed(latent)
        batch, length = ids_restore.shape
        n_masked = length + 1 - x.shape[1]
        masked = self.mask_token.expand(batch, n_masked, -1)
        patches = torch.cat([x[:, 1:], masked], dim=1)
        index = ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[2])
        patches = torch.gather(patches, 1, index)
        x = torch.cat([x[:, :1], patches], dim=1) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]

    def target(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Patches of ``images`` and their per-patch mean and std (for de-normalising)."""
        patches = patchify(images, self.patch_size)
        mean = patches.mean(dim=-1, keepdim=True)
        std = (patches.var(dim=-1, keepdim=True) + 1e-6).sqrt()
        return patches, mean, std

    def loss(self, images: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error on the (normalised) pixels of the masked patches.

        Computed in float32 even under bf16 autocast: the per-patch variance of dim
        background patches is too small for bf16.
        """
        with torch.autocast(images.device.type, enabled=False):
            patches, mean, std = self.target(images.float())
            if self.norm_pix_loss:
                patches = (patches - mean) / std
            per_patch = ((pred.float() - patches) ** 2).mean(dim=-1)
            return (per_patch * mask.float()).sum() / mask.sum().clamp_min(1.0)

    def forward(
        self,
        images: torch.Tensor,
        mask_ratio: float = MASK_RATIO,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (loss, pred (B, L, p * p * C), mask (B, L))."""
        latent, mask, ids_restore = self.forward_encoder(images, mask_ratio, generator)
        pred = self.forward_decoder(latent, ids_restore)
        return self.loss(images, pred, mask), pred, mask

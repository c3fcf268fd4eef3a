"""What the model sees: MAE reconstructions and attention maps, in image coordinates.

Crops are cut and normalised exactly as for embedding; results are computed per crop and
placed back into arrays the size of the field (NaN outside the inspected windows; where
windows overlap, each pixel shows the window whose centre is nearest), ready to be added
to napari as layers aligned with the field.

Reconstructions: the MAE predicts *normalised* pixels of each hidden patch (``norm_pix``
loss). For display they are de-normalised with the mean and standard deviation of the
true (target) patch, as in the MAE paper's figures; the error is then the absolute
difference to the input, averaged over channels, on hidden patches only.

Attention: timm's blocks use fused attention that never materialises the attention
matrix, so it is recomputed here explicitly from each block's ``qkv`` (no monkeypatching).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer

from napari_phenoscope.features.crops import DEFAULT_CROP_SIZE, crop_origins, cut_windows
from napari_phenoscope.features.scaling import Normalization, normalize_image
from napari_phenoscope.models.mae import MASK_RATIO, MaskedAutoencoder, unpatchify
from napari_phenoscope.models.vit import add_cls_token, patch_tokens


@dataclass
class Reconstruction:
    """MAE outputs for N crops (arrays are (N, C, S, S) or (N, S, S)).

    Attributes
    ----------
    masked
        The input with hidden patches set to 0.
    reconstruction
        Visible patches as input, hidden patches as predicted (de-normalised).
    error
        Absolute error averaged over channels on hidden patches, 0 on visible ones.
    hidden
        True on pixels of hidden patches.
    loss
        The MAE loss (normalised-pixel MSE on hidden patches) of these crops.
    """

    masked: np.ndarray
    reconstruction: np.ndarray
    error: np.ndarray
    hidden: np.ndarray
    loss: float


@torch.no_grad()
def reconstruct(
    mae: MaskedAutoencoder,
    crops: np.ndarray,
    mask_ratio: float = MASK_RATIO,
    seed: int = 0,
    batch_size: int = 64,
) -> Reconstruction:
    """Mask crops at random (seeded) and reconstruct them with the MAE.

    Parameters
    ----------
    mae
        A ``MaskedAutoencoder`` (``weights.load_mae``).
    crops
        (N, C, S, S) normalised crops.
    mask_ratio
        Fraction of patches hidden.
    seed
        Seed of the random mask (same seed, same mask).
    batch_size
        Crops per forward pass.
    """
    device = next(mae.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    mae.eval()
    parts: dict[str, list[np.ndarray]] = {"masked": [], "recon": [], "error": [], "hidden": []}
    losses = []
    p, channels = mae.patch_size, mae.in_chans
    for start in range(0, len(crops), batch_size):
        images = torch.as_tensor(np.asarray(crops[start : start + batch_size]), dtype=torch.float32)
        images = images.to(device)
        loss, pred, mask = mae(images, mask_ratio, generator)
        losses.append(float(loss) * len(images))
        _, mean, std = mae.target(images)
        predicted = unpatchify(pred * std + mean if mae.norm_pix_loss else pred, p, channels)
        hidden = unpatchify(mask[..., None].expand(-1, -1, p * p * channels), p, channels) > 0.5
        recon = torch.where(hidden, predicted, images)
        parts["masked"].append(torch.where(hidden, 0.0, images).cpu().numpy())
        parts["recon"].append(recon.cpu().numpy())
        error = ((recon - images).abs().mean(dim=1)) * hidden[:, 0]
        parts["error"].append(error.cpu().numpy())
        parts["hidden"].append(hidden[:, 0].cpu().numpy())
    if not losses:
        empty = np.zeros((0, *np.shape(crops)[1:]), np.float32)
        return Reconstruction(empty, empty, empty[:, 0], empty[:, 0].astype(bool), float("nan"))
    return Reconstruction(
        masked=np.concatenate(parts["masked"]).astype(np.float32),
        reconstruction=np.concatenate(parts["recon"]).astype(np.float32),
        error=np.concatenate(parts["error"]).astype(np.float32),
        hidden=np.concatenate(parts["hidden"]),
        loss=sum(losses) / len(crops),
    )


def block_attention(block: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """(B, heads, T, T) softmax attention of a timm ``Block`` on its input tokens."""
    attn = block.attn
    batch, length, _ = tokens.shape
    qkv = attn.qkv(block.norm1(tokens))
    qkv = qkv.reshape(batch, length, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    query, key, _ = qkv.unbind(0)
    query, key = attn.q_norm(query), attn.k_norm(key)
    return ((query * attn.scale) @ key.transpose(-2, -1)).softmax(dim=-1)


@torch.no_grad()
def attention_per_block(encoder: VisionTransformer, images: torch.Tensor) -> list[torch.Tensor]:
    """Attention matrices (B, heads, T, T) of every block, for a batch of crops."""
    tokens = encoder.norm_pre(add_cls_token(encoder, patch_tokens(encoder, images)))
    matrices = []
    for block in encoder.blocks:
        matrices.append(block_attention(block, tokens))
        tokens = block(tokens)
    return matrices


def rollout(matrices: list[torch.Tensor]) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020): (B, T, T) product of head-averaged maps.

    Each layer's head-mean attention gets the residual connection added (0.5 A + 0.5 I) and
    its rows renormalised before the layers are multiplied.
    """
    result = None
    for matrix in matrices:
        averaged = matrix.mean(dim=1)
        identity = torch.eye(averaged.shape[-1], device=averaged.device)
        averaged = 0.5 * averaged + 0.5 * identity
        averaged = averaged / averaged.sum(dim=-1, keepdim=True)
        result = averaged if result is None else averaged @ result
    if result is None:
        raise ValueError("the encoder has no blocks")
    return result


def _to_pixels(maps: torch.Tensor, grid: int, size: int, mode: str) -> np.ndarray:
    """(B, K, L) patch maps -> (B, K, size, size), each map scaled to max 1."""
    batch, count, _ = maps.shape
    maps = maps.reshape(batch, count, grid, grid)
    maps = maps / maps.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    if mode == "nearest":
        pixels = F.interpolate(maps, size=(size, size), mode="nearest")
    else:
        pixels = F.interpolate(maps, size=(size, size), mode=mode, align_corners=False)
    return pixels.cpu().numpy().astype(np.float32)


@torch.no_grad()
def attention_maps(
    encoder: VisionTransformer,
    crops: np.ndarray,
    batch_size: int = 64,
    mode: str = "nearest",
) -> tuple[np.ndarray, np.ndarray]:
    """Last-layer CLS attention per head and the attention rollout, at crop resolution.

    Parameters
    ----------
    encoder
        A five-channel ViT.
    crops
        (N, C, S, S) normalised crops.
    batch_size
        Crops per forward pass.
    mode
        Upsampling from the patch grid to pixels: ``"nearest"`` (each patch a flat block,
        true to the model's resolution) or ``"bilinear"``.

    Returns
    -------
    heads : numpy.ndarray
        (N, heads, S, S) CLS -> patch attention of the last block, each map max 1.
    rollout_maps : numpy.ndarray
        (N, S, S) CLS row of the attention rollout over all blocks, each map max 1.
    """
    device = next(encoder.parameters()).device
    encoder.eval()
    size = int(np.shape(crops)[-1])
    prefix = int(encoder.num_prefix_tokens)
    grid = size // int(encoder.patch_embed.patch_size[0])
    heads, rolled = [], []
    for start in range(0, len(crops), batch_size):
        images = torch.as_tensor(np.asarray(crops[start : start + batch_size]), dtype=torch.float32)
        matrices = attention_per_block(encoder, images.to(device))
        heads.append(_to_pixels(matrices[-1][:, :, 0, prefix:], grid, size, mode))
        rolled.append(_to_pixels(rollout(matrices)[:, None, 0, prefix:], grid, size, mode)[:, 0])
    if not heads:
        n_heads = int(encoder.blocks[-1].attn.num_heads)
        return np.zeros((0, n_heads, size, size), np.float32), np.zeros((0, size, size), np.float32)
    return np.concatenate(heads), np.concatenate(rolled)


def place_in_field(
    maps: np.ndarray,
    origins: np.ndarray,
    field_shape: tuple[int, int],
    fill: float = np.nan,
) -> np.ndarray:
    """Place per-crop maps back into field coordinates.

    Parameters
    ----------
    maps
        (N, ..., S, S) per-crop arrays (e.g. (N, S, S) errors or (N, C, S, S) images).
    origins
        (N, 2) (y, x) top-left corners of the crops in the field (``crops.crop_origins``).
    field_shape
        (Y, X) of the field.
    fill
        Value of pixels outside every crop.

    Returns
    -------
    numpy.ndarray
        (..., Y, X) float32; where crops overlap, a pixel takes the value of the crop whose
        centre is nearest (so each cell keeps its own surroundings).

    Examples
    --------
    >>> field = place_in_field(np.ones((1, 2, 2)), np.array([[1, 1]]), (4, 4), fill=0.0)
    >>> field.astype(int).tolist()
    [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    """
    maps = np.asarray(maps)
    size = maps.shape[-1]
    height, width = field_shape
    placed = np.full((*maps.shape[1:-2], height, width), fill, dtype=np.float32)
    nearest = np.full((height, width), np.inf)
    offsets = (np.arange(size) - (size - 1) / 2.0) ** 2
    distance = offsets[:, None] + offsets[None, :]
    for crop, (y0, x0) in zip(maps, np.asarray(origins, dtype=np.int64), strict=True):
        ys, xs = max(y0, 0), max(x0, 0)
        ye, xe = min(y0 + size, height), min(x0 + size, width)
        if ye <= ys or xe <= xs:
            continue
        window = distance[ys - y0 : ye - y0, xs - x0 : xe - x0]
        closer = window < nearest[ys:ye, xs:xe]
        nearest[ys:ye, xs:xe][closer] = window[closer]
        target = placed[..., ys:ye, xs:xe]
        source = crop[..., ys - y0 : ye - y0, xs - x0 : xe - x0]
        target[..., closer] = source[..., closer]
    return placed


def tile_origins(field_shape: tuple[int, int], size: int = DEFAULT_CROP_SIZE) -> np.ndarray:
    """(T, 2) top-left corners of a grid of ``size`` tiles covering a (Y, X) field.

    Examples
    --------
    >>> tile_origins((100, 64), 64).tolist()
    [[0, 0], [64, 0]]
    """
    rows = np.arange(0, max(field_shape[0], 1), size)
    cols = np.arange(0, max(field_shape[1], 1), size)
    return np.array([(y, x) for y in rows for x in cols], dtype=np.int64).reshape(-1, 2)


@dataclass
class FieldInspection:
    """Reconstruction and attention of windows of a field, as (…, Y, X) field arrays.

    ``masked`` / ``reconstruction`` are (C, Y, X) in normalised intensity (0-1 per channel),
    ``error`` / ``rollout`` / ``hidden`` (1 on masked patches, 0 on visible ones) (Y, X),
    ``attention`` (heads, Y, X); NaN outside the windows.
    ``origins`` are the windows' (y, x) corners, ``loss`` the MAE loss over them.
    """

    masked: np.ndarray
    reconstruction: np.ndarray
    error: np.ndarray
    attention: np.ndarray
    rollout: np.ndarray
    origins: np.ndarray
    loss: float
    hidden: np.ndarray | None = None


def inspect_field(
    mae: MaskedAutoencoder,
    image: np.ndarray,
    centers: np.ndarray | None = None,
    mask_ratio: float = MASK_RATIO,
    seed: int = 0,
    normalization: Normalization = "field",
) -> FieldInspection:
    """Reconstruct and explain cells (``centers``) or the whole field (tiles) of an image.

    Parameters
    ----------
    mae
        A ``MaskedAutoencoder``; its encoder gives the attention maps.
    image
        (5, Y, X) raw field.
    centers
        (N, 2) (y, x) nucleus centres (one crop each, as for embedding); None tiles the
        whole field with crop-sized windows (the last row / column padded with zeros).
    mask_ratio, seed
        Masking of the reconstruction (seeded).
    normalization
        As for ``crops.extract_crops``.
    """
    size = int(mae.encoder.patch_embed.img_size[0])
    normalized = normalize_image(np.asarray(image), normalization)
    shape = normalized.shape[1:]
    if centers is None:
        origins = tile_origins(shape, size)
    else:
        origins = crop_origins(np.asarray(centers, dtype=np.float64).reshape(-1, 2), size)
    crops = cut_windows(normalized, origins, size)
    result = reconstruct(mae, crops, mask_ratio=mask_ratio, seed=seed)
    heads, rolled = attention_maps(mae.encoder, crops)
    return FieldInspection(
        masked=place_in_field(result.masked, origins, shape),
        reconstruction=place_in_field(result.reconstruction, origins, shape),
        error=place_in_field(result.error, origins, shape),
        attention=place_in_field(heads, origins, shape),
        rollout=place_in_field(rolled, origins, shape),
        origins=origins,
        loss=result.loss,
        hidden=place_in_field(result.hidden.astype(np.float32), origins, shape),
    )

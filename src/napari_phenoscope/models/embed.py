"""Per-cell embeddings: batched encoder inference on normalised crops, GPU when present."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from timm.models.vision_transformer import VisionTransformer

from napari_phenoscope.errors import PhenoscopeError

Pool = Literal["auto", "cls", "mean", "cls+mean"]
Pooling = Literal["cls", "mean", "cls+mean"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; other values as ``torch.device``.

    The one place a device choice (``--device``, the docks' combo box) is interpreted.

    Raises
    ------
    PhenoscopeError
        If a CUDA device is asked for without a usable CUDA GPU.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise PhenoscopeError(f"device {device} was chosen but no CUDA GPU is available")
    return resolved


def default_pool(encoder: VisionTransformer) -> Pooling:
    """Pooling that suits how the encoder was trained: its weights' ``preprocessing.pooling``.

    Without recorded preprocessing:
    An MAE's loss reaches the CLS token only indirectly (the decoder drops it), so its
    mean patch token is the better summary of a cell (He et al. 2022 found the two close for
    ViTs, mean pooling slightly more robust); DINO trains the CLS token itself, so it is used
    for DINO weights. Unknown weights use the mean.
    """
    preprocessing = getattr(encoder, "phenoscope_preprocessing", None)
    if preprocessing is not None:
        return preprocessing.pooling
    return "cls" if getattr(encoder, "phenoscope_method", "unknown") == "dino" else "mean"


def pool_tokens(tokens: torch.Tensor, pool: Pooling, n_prefix: int = 1) -> torch.Tensor:
    """(B, n_prefix + L, D) tokens -> (B, D) (or (B, 2D) for ``"cls+mean"``).

    The CLS token, the mean of patch tokens, or both concatenated.
    """
    if pool == "cls":
        return tokens[:, 0]
    if pool == "mean":
        return tokens[:, n_prefix:].mean(dim=1)
    if pool == "cls+mean":
        return torch.cat([tokens[:, 0], tokens[:, n_prefix:].mean(dim=1)], dim=1)
    raise ValueError(f"pool must be 'cls', 'mean' or 'cls+mean', not {pool!r}")


@torch.no_grad()
def embed_crops(
    encoder: VisionTransformer,
    crops: np.ndarray,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    pool: Pool = "auto",
) -> np.ndarray:
    """Embed normalised crops with the encoder, batch by batch.

    Parameters
    ----------
    encoder
        A five-channel ViT (``load_encoder``).
    crops
        (N, 5, S, S) float crops from ``crops.extract_crops``.
    batch_size
        Crops per forward pass.
    device
        ``"auto"`` (CUDA if present), ``"cpu"`` or ``"cuda"``; bf16 autocast on CUDA.
    pool
        ``"cls"``, ``"mean"`` (of patch tokens), ``"cls+mean"`` or ``"auto"``:
        ``default_pool(encoder)`` (the pooling recorded in the weights).

    Returns
    -------
    numpy.ndarray
        (N, D) float32 embeddings.
    """
    crops = np.asarray(crops)
    in_chans = int(encoder.patch_embed.proj.in_channels)
    if crops.ndim != 4 or crops.shape[1] != in_chans:
        raise ValueError(f"crops must be (N, {in_chans}, S, S), got shape {crops.shape}")
    chosen: Pooling = default_pool(encoder) if pool == "auto" else pool
    target = resolve_device(device)
    was_training = encoder.training
    encoder.eval()
    if next(encoder.parameters()).device != target:
        encoder.to(target)
    outputs = []
    try:
        for start in range(0, len(crops), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(crops[start : start + batch_size]))
            batch = batch.to(target, dtype=torch.float32)
            with torch.autocast(target.type, dtype=torch.bfloat16, enabled=target.type == "cuda"):
                tokens = encoder.forward_features(batch)
            pooled = pool_tokens(tokens.float(), chosen, int(encoder.num_prefix_tokens))
            outputs.append(pooled.cpu().numpy())
    finally:
        encoder.train(was_training)
    if not outputs:
        width = 2 if chosen == "cls+mean" else 1
        return np.zeros((0, width * int(encoder.embed_dim)), dtype=np.float32)
    return np.concatenate(outputs).astype(np.float32, copy=False)

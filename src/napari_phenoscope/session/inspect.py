"""What the Inspect dock computes, as plain functions (no Qt, no napari).

A window of the field (centred on a cell, or every tile of a grid over the field) is cut
out, normalised like the training crops, masked and reconstructed by the MAE, and passed
through the encoder for its CLS attention; the results are mapped back to field pixels
(an origin plus arrays the size of the window or of the tiled area).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from napari_phenoscope.constants import CHANNEL_COLORMAPS, CHANNELS
from napari_phenoscope.errors import ModelWeightsError

ROLLOUT = "rollout"

#: RGB of each napari colormap used for the channels, for composites of model inputs.
_COLORMAP_RGB: dict[str, tuple[float, float, float]] = {
    "blue": (0.0, 0.0, 1.0),
    "green": (0.0, 1.0, 0.0),
    "cyan": (0.0, 1.0, 1.0),
    "red": (1.0, 0.0, 0.0),
    "magenta": (1.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
    "gray": (1.0, 1.0, 1.0),
}


@dataclass
class Inspection:
    """MAE and attention outputs of a window of a field, in field pixel coordinates.

    Attributes
    ----------
    key
        (plate, well, site) of the field.
    origin
        (y, x) of the top-left pixel of the arrays in the field (may be negative at edges).
    masked, reconstruction
        (H, W, 3) RGB composites (channel colours as in the viewer) in [0, 1]; masked
        patches of ``masked`` are black; ``reconstruction`` shows the visible patches as
        they were and the masked ones as the MAE predicted them.
    error
        (H, W) absolute reconstruction error averaged over channels, on masked patches.
    attention
        (H, W) CLS attention (one head or the rollout), upsampled to pixels, max 1.
    summary
        One line for the dock's status.
    """

    key: tuple[str, str, int]
    origin: tuple[int, int]
    masked: np.ndarray
    reconstruction: np.ndarray
    error: np.ndarray
    attention: np.ndarray
    summary: str


def channel_composite(
    stack: np.ndarray,
    limits: np.ndarray,
    channels: Sequence[str] = CHANNELS,
) -> np.ndarray:
    """Additive RGB composite of a (C, H, W) stack, each channel scaled by its (low, high).

    Parameters
    ----------
    stack
        (C, H, W) array.
    limits
        (C, 2) display range per channel (the same for an input and its reconstruction,
        so that they can be compared).
    channels
        Channel names, for their colours (``CHANNEL_COLORMAPS``).

    Returns
    -------
    numpy.ndarray
        (H, W, 3) float32 in [0, 1].

    Examples
    --------
    >>> stack = np.zeros((5, 2, 2)); stack[0] = 1.0  # DNA only
    >>> rgb = channel_composite(stack, np.tile([0.0, 1.0], (5, 1)))
    >>> rgb[0, 0].tolist()
    [0.0, 0.0, 1.0]
    """
    rgb = np.zeros((*stack.shape[1:], 3), dtype=np.float32)
    for plane, (low, high), channel in zip(stack, limits, channels, strict=True):
        scaled = np.clip((plane - low) / max(float(high - low), 1e-6), 0.0, 1.0)
        colour = np.asarray(_COLORMAP_RGB[CHANNEL_COLORMAPS[channel]], dtype=np.float32)
        rgb += scaled[..., None].astype(np.float32) * colour
    return np.clip(rgb, 0.0, 1.0)


def _bounding_box(valid: np.ndarray) -> tuple[slice, slice]:
    rows = np.flatnonzero(valid.any(axis=1))
    cols = np.flatnonzero(valid.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


@lru_cache(maxsize=2)
def _cached_mae(path: str | None) -> Any:
    from napari_phenoscope.models import load_mae

    return load_mae(path)


def load_inspection_model(path: str | None = None) -> Any:
    """The MAE (encoder + decoder) used for inspection, loaded once per weights file."""
    return _cached_mae(path)


def attention_heads() -> int:
    """Attention heads of the bundled encoder (for the dock's head choice)."""
    from napari_phenoscope.models import DEFAULT_CONFIG

    return int(DEFAULT_CONFIG.num_heads)


def inspect_field(
    field_row: Any,
    key: tuple[str, str, int],
    centre: tuple[float, float] | None,
    mask_ratio: float = 0.75,
    seed: int = 0,
    attention: str | int = ROLLOUT,
    model_path: str | None = None,
) -> Inspection:
    """Read a field and inspect the window on ``centre`` (a cell) or every tile (None).

    Parameters
    ----------
    field_row
        Row of the field index (``index_plate``).
    key
        (plate, well, site) of that field.
    centre
        (y, x) of the cell to inspect (its crop is cut as for embedding), or None to tile
        the whole field with crop-sized windows.
    mask_ratio, seed
        Fraction of patches the MAE hides, and the seed of which ones.
    attention
        ``"rollout"`` or the index of a last-layer head.
    model_path
        MAE weights; the bundled weights by default.

    Returns
    -------
    Inspection
        Arrays cut to the inspected windows, with their origin in the field.
    """
    from napari_phenoscope.io import read_field
    from napari_phenoscope.models.inspect import inspect_field as model_inspect_field

    image = read_field(field_row, missing="zeros")
    mae = load_inspection_model(model_path)
    centers = None if centre is None else np.asarray([centre], dtype=np.float64)
    result = model_inspect_field(mae, image, centers, mask_ratio=mask_ratio, seed=seed)
    rows, cols = _bounding_box(np.isfinite(result.error))
    unit = np.tile([0.0, 1.0], (len(CHANNELS), 1))  # crops are normalised to [0, 1]
    if attention == ROLLOUT:
        attention_map = result.rollout
    elif 0 <= int(attention) < len(result.attention):
        attention_map = result.attention[int(attention)]
    else:
        raise ModelWeightsError(
            f"the encoder of {model_path or 'the bundled weights'} has "
            f"{len(result.attention)} attention heads; there is no head {attention}"
        )
    where = "field tiles" if centre is None else f"cell at x {centre[1]:.0f}, y {centre[0]:.0f}"
    which = "rollout" if attention == ROLLOUT else f"head {int(attention)}"
    return Inspection(
        key=key,
        origin=(int(rows.start), int(cols.start)),
        masked=channel_composite(np.nan_to_num(result.masked[:, rows, cols]), unit),
        reconstruction=channel_composite(np.nan_to_num(result.reconstruction[:, rows, cols]), unit),
        error=np.nan_to_num(result.error[rows, cols]),
        attention=np.nan_to_num(attention_map[rows, cols]),
        summary=(
            f"{key[1]} site {key[2]}, {where}: {len(result.origins)} window(s), "
            f"mask ratio {mask_ratio:.2f}, seed {seed}, attention {which}, "
            f"MAE loss {result.loss:.3f}"
        ),
    )

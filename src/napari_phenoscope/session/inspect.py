"""What the Inspect dock computes, as plain functions (no Qt, no napari).

A window of the field (centred on a cell, or every tile of a grid over the field) is cut
out, normalised like the training crops, masked and reconstructed by the MAE, and passed
through the encoder for its CLS attention; the results are mapped back to field pixels
(an origin plus arrays the size of the window or of the tiled area).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNELS, PLATE
from napari_phenoscope.errors import ModelWeightsError
from napari_phenoscope.features.composite import channel_composite

ROLLOUT = "rollout"
#: Colour of the masked patches of the masked input: a mid grey, told apart from the black
#: background of the field (the MAE saw neither signal nor background there).
MASKED_RGB = (0.32, 0.32, 0.36)


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
        patches of ``masked`` are grey (``MASKED_RGB``, not black like the background);
        ``reconstruction`` shows the visible patches as they were and the masked ones as
        the MAE predicted them.
    error
        (H, W) absolute reconstruction error averaged over channels, on masked patches.
    attention
        (H, W) CLS attention (one head or the rollout), upsampled to pixels, max 1.
    summary
        One line for the dock's status.
    windows
        (N, 4) field boxes (y0, x0, y1, x1) of the windows the MAE saw (the crop's box).
    """

    key: tuple[str, str, int]
    origin: tuple[int, int]
    masked: np.ndarray
    reconstruction: np.ndarray
    error: np.ndarray
    attention: np.ndarray
    summary: str
    windows: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))


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


def _normalization(
    encoder: Any, plate: str, plate_fields: pd.DataFrame | None, field_row: Any
) -> Any:
    """The crop scaling the weights ask for: per field, or the plate's limits."""
    from napari_phenoscope.profiling.pipeline import encoder_normalisation

    if plate_fields is None:
        plate_fields = pd.DataFrame([dict(field_row)])
    in_plate = plate_fields[plate_fields[PLATE].astype(str) == str(plate)]
    if in_plate.empty:
        in_plate = pd.DataFrame([dict(field_row)])
    return encoder_normalisation(encoder, in_plate, missing="zeros").get(str(plate), "field")


def inspect_field(
    field_row: Any,
    key: tuple[str, str, int],
    centre: tuple[float, float] | None,
    mask_ratio: float = 0.75,
    seed: int = 0,
    attention: str | int = ROLLOUT,
    model_path: str | None = None,
    plate_fields: pd.DataFrame | None = None,
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
    plate_fields
        The field index the field belongs to: weights trained with per-plate
        normalisation scale the crops by the plate's limits computed from it.

    Returns
    -------
    Inspection
        Arrays cut to the inspected windows, with their origin in the field.
    """
    from napari_phenoscope.io import read_field
    from napari_phenoscope.models.field_inspection import inspect_field as model_inspect_field

    image = read_field(field_row, missing="zeros")
    mae = load_inspection_model(model_path)
    centers = None if centre is None else np.asarray([centre], dtype=np.float64)
    normalization = _normalization(mae.encoder, key[0], plate_fields, field_row)
    result = model_inspect_field(
        mae, image, centers, mask_ratio=mask_ratio, seed=seed, normalization=normalization
    )
    rows, cols = _bounding_box(np.isfinite(result.error))
    unit = np.tile([0.0, 1.0], (len(CHANNELS), 1))  # crops are normalised to [0, 1]
    size = int(mae.encoder.patch_embed.img_size[0])  # the windows' side
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
        masked=_grey_where_hidden(
            channel_composite(np.nan_to_num(result.masked[:, rows, cols]), unit),
            None if result.hidden is None else result.hidden[rows, cols],
        ),
        reconstruction=channel_composite(np.nan_to_num(result.reconstruction[:, rows, cols]), unit),
        error=np.nan_to_num(result.error[rows, cols]),
        attention=np.nan_to_num(attention_map[rows, cols]),
        summary=(
            f"{key[1]} site {key[2]}, {where}: {len(result.origins)} window(s), "
            f"mask ratio {mask_ratio:.2f}, seed {seed}, attention {which}, "
            f"MAE loss {result.loss:.3f}"
        ),
        windows=np.array(
            [(y, x, y + size, x + size) for y, x in np.asarray(result.origins).reshape(-1, 2)]
        ).reshape(-1, 4),
    )


def _grey_where_hidden(rgb: np.ndarray, hidden: np.ndarray | None) -> np.ndarray:
    """``rgb`` with the MAE's hidden patches painted ``MASKED_RGB``."""
    if hidden is None:
        return rgb
    rgb = np.array(rgb, copy=True)
    rgb[np.nan_to_num(hidden) > 0.5] = MASKED_RGB
    return rgb

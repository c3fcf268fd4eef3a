"""RGB composites of channel stacks in the viewer's channel colours (figures, thumbnails).

Each channel is scaled by its own (low, high) display range and added in its napari
colour (``constants.CHANNEL_COLORMAPS``), as napari's additive blending shows the layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_phenoscope.constants import CHANNEL_COLORMAPS, CHANNELS

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

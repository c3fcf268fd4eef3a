"""A field as napari layer data: one Image layer per channel, tagged with the field index.

Plain ``(data, kwargs, "image")`` tuples, no napari import: the reader, the sample data,
the session's plate opening and the docks' field navigation all build a field's layers here,
so the layer names, colours, contrast and the ``metadata["phenoscope"]`` record that lets
the docks navigate a plate are the same whoever opened it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNEL_COLORMAPS, CHANNELS
from napari_phenoscope.io.fields import available_channels, channel_path, read_field
from napari_phenoscope.io.illum import is_illum_corrected

#: napari's LayerData tuple: (data, layer keyword arguments, layer type).
LayerData = tuple[Any, dict[str, Any], str]
#: The key of Phenoscope's record in a layer's ``metadata`` (field index, field, channel).
METADATA_KEY = "phenoscope"


def robust_contrast_limits(
    plane: np.ndarray, low: float = 0.5, high: float = 99.8
) -> tuple[float, float]:
    """Percentile contrast limits, widened if the plane is (nearly) constant."""
    sample = plane[:: max(1, plane.shape[0] // 512), :: max(1, plane.shape[1] // 512)]
    lower, upper = (float(v) for v in np.percentile(sample, [low, high]))
    if upper <= lower:
        upper = lower + 1.0
    return lower, upper


def field_layer_data(
    fields: pd.DataFrame, index: int, source: Path | None = None
) -> list[LayerData]:
    """Layer data for one field: one Image layer per available channel, DNA first.

    Only this field is read, each plane once: its contrast limits come from its own
    percentiles, and the plane read for them is the layer's data (a lazy plane handed to
    napari was read again on every refresh: three reads per channel per field change).
    The field index travels in ``metadata['phenoscope']`` so the dock widgets can
    navigate the plate.
    """
    record = fields.iloc[index].to_dict()
    channels = available_channels(record)
    corrected = is_illum_corrected(record)
    layers: list[LayerData] = []
    stack = read_field(record, channels) if channels else np.zeros((0, 0, 0), np.uint16)
    for channel, plane in zip(channels, stack, strict=True):
        limits = robust_contrast_limits(plane)
        layers.append(
            (
                plane,
                {
                    "name": channel,
                    "colormap": CHANNEL_COLORMAPS[channel],
                    "blending": "additive",
                    "contrast_limits": limits,
                    "metadata": {
                        METADATA_KEY: {
                            "source": str(source) if source else None,
                            "fields": fields,
                            "field": index,
                            "channel": channel,
                            "path": str(channel_path(record, channel)),
                            "illum_corrected": corrected,
                        }
                    },
                },
                "image",
            )
        )
    missing = [c for c in CHANNELS if c not in channels]
    if missing and layers:
        layers[0][1]["metadata"][METADATA_KEY]["missing_channels"] = missing
    return layers

"""Colours of the profile map's points by one column, and the legend that explains them.

Categories get the same stable colours as on the plate grid (``io.plate_layout``); numbers
a viridis scale between their smallest and largest finite value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from napari_phenoscope.io.plate_layout import category_colour


@dataclass(frozen=True)
class PointColours:
    """Colours of the map's points by one column, and the legend that explains them."""

    rgba: np.ndarray
    legend: list[tuple[str, tuple[float, float, float, float]]]
    numeric: bool


def point_colours(values: pd.Series, max_legend: int = 12) -> PointColours:
    """Colour points by a column: stable category colours (as on the plate grid) or viridis.

    Categories beyond the ``max_legend`` most frequent ones are listed as "other".
    """
    from matplotlib import colormaps

    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric:
        numbers = values.to_numpy(dtype=float)
        finite = numbers[np.isfinite(numbers)]
        low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        span = high - low if high > low else 1.0
        rgba = colormaps["viridis"](np.clip((numbers - low) / span, 0, 1))
        rgba[~np.isfinite(numbers)] = (0.55, 0.55, 0.55, 1.0)
        legend = [(f"{low:g}", tuple(rgba_at(0.0))), (f"{high:g}", tuple(rgba_at(1.0)))]
        return PointColours(rgba=rgba, legend=legend, numeric=True)
    labels = values.astype(str).fillna("")
    codes, names = pd.factorize(labels)  # one colour per category, not per point
    palette = {name: category_colour(name) for name in names}
    rgba = np.array([palette[name] for name in names], dtype=float).reshape(-1, 4)[codes]
    counts = labels.value_counts()
    legend = [(name, palette[name]) for name in counts.index[:max_legend]]
    if len(counts) > max_legend:
        legend.append((f"{len(counts) - max_legend} other", (0.55, 0.55, 0.55, 0.0)))
    return PointColours(rgba=rgba, legend=legend, numeric=False)


def rgba_at(fraction: float) -> tuple[float, float, float, float]:
    """The viridis colour at ``fraction`` (0..1) of a numeric colour scale."""
    from matplotlib import colormaps

    return tuple(float(c) for c in colormaps["viridis"](fraction))

"""Per-label sums and safe ratios over dense label images (1..n), shared by the feature modules."""

from __future__ import annotations

import numpy as np


def per_label_sum(index: np.ndarray, weights: np.ndarray | None, n_cells: int) -> np.ndarray:
    """Sum of ``weights`` (or pixel count) per label 1..n of a dense label image."""
    return np.bincount(
        index.ravel(), weights=None if weights is None else weights.ravel(), minlength=n_cells + 1
    )[1:]


def safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, 0 where the denominator is 0 (zero, not NaN)."""
    out = np.zeros(np.broadcast(numerator, denominator).shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out

"""Per-channel intensity scaling of fields: percentiles per field, or per plate.

Normalisation is a per-channel percentile scaling: ``(x - p_low) / (p_high - p_low)``
clipped to ``[0, 1]``, with the percentiles taken per field or per plate. Plates imaged on
different days differ by gain and offset; both scopes remove them. Per field also erases
what a whole well shares (a compound that brightens Mito in every cell of a well looks like
DMSO after it); per plate (``plate_limits``: the median over a sample of the plate's fields)
keeps it. The encoder's weights say which scope it was trained with
(``models.preprocessing``); ``crops`` cuts the scaled fields into cells.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.errors import PlateFormatError

#: Percentiles mapped to 0 and 1 by the normalisation.
DEFAULT_PERCENTILES: tuple[float, float] = (1.0, 99.8)

Normalization = Literal["field", "none"] | np.ndarray


def channel_percentiles(
    image: np.ndarray,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    max_pixels: int = 262_144,
) -> np.ndarray:
    """Low and high intensity percentiles of each channel of a (C, Y, X) field.

    Parameters
    ----------
    image
        (C, Y, X) field, any numeric dtype.
    percentiles
        The (low, high) percentiles, in 0-100.
    max_pixels
        Fields with more pixels per channel are subsampled on a regular grid (the
        percentiles of a 1080 x 1080 field move by < 1 % but cost 4x less).

    Returns
    -------
    numpy.ndarray
        (C, 2) float64: per channel the (low, high) value, ``high > low`` always.

    Examples
    --------
    >>> field = np.arange(2 * 10 * 10).reshape(2, 10, 10)
    >>> channel_percentiles(field, (0.0, 100.0)).tolist()
    [[0.0, 99.0], [100.0, 199.0]]
    """
    if image.ndim != 3:
        raise ValueError(f"expected a (C, Y, X) image, got shape {image.shape}")
    flat = image.reshape(image.shape[0], -1)
    step = max(1, int(np.ceil(flat.shape[1] / max_pixels)))
    limits = np.percentile(flat[:, ::step], percentiles, axis=1).T.astype(np.float64)
    # a constant channel (e.g. a missing channel filled with zeros) must not divide by 0
    limits[:, 1] = np.maximum(limits[:, 1], limits[:, 0] + 1.0)
    return limits


def plate_percentiles(
    images: Iterable[np.ndarray],
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
) -> np.ndarray:
    """Per-plate percentiles: the median over fields of each field's percentiles.

    Streaming: only one field is held at a time. The median makes one over-exposed or
    empty field harmless.

    Parameters
    ----------
    images
        (C, Y, X) fields of one plate (e.g. a generator over a sample of its fields).
    percentiles
        The (low, high) percentiles, in 0-100.

    Returns
    -------
    numpy.ndarray
        (C, 2) limits to pass as ``normalization`` to ``extract_crops``.
    """
    per_field = [channel_percentiles(image, percentiles) for image in images]
    if not per_field:
        raise PlateFormatError("no field to compute plate percentiles from")
    return np.median(np.stack(per_field), axis=0)


#: Fields sampled per plate for ``plate_limits`` (evenly spaced over the plate's index).
PLATE_SAMPLE_FIELDS = 24


def sample_rows(n_rows: int, n_sample: int = PLATE_SAMPLE_FIELDS) -> np.ndarray:
    """Indices of ``n_sample`` rows evenly spaced over ``n_rows`` (all of them if fewer).

    Deterministic, and spread over the whole plate so that edge wells, controls and
    treated wells all contribute.

    Examples
    --------
    >>> sample_rows(10, 4).tolist()
    [0, 3, 6, 9]
    """
    if n_rows <= n_sample:
        return np.arange(n_rows)
    return np.unique(np.round(np.linspace(0, n_rows - 1, n_sample)).astype(np.int64))


def plate_limits(
    fields: pd.DataFrame,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    n_sample: int = PLATE_SAMPLE_FIELDS,
    missing: Literal["error", "zeros"] = "error",
) -> np.ndarray:
    """Per-plate normalisation limits from a sample of the plate's fields.

    Memoised by the sampled fields' index rows (file paths), so the viewer computes a
    plate's limits once however many of its fields are profiled or inspected
    (``plate_limits_cache_clear()`` forgets them, e.g. after files were rewritten).

    Parameters
    ----------
    fields
        The field index of ONE plate (``io.index_plate`` rows); the sample does not depend
        on which wells are later profiled.
    percentiles
        The (low, high) percentiles, in 0-100.
    n_sample
        Fields to read (evenly spaced over the plate sorted by well and site, see
        ``sample_rows``).
    missing
        As for ``io.read_field``.

    Returns
    -------
    numpy.ndarray
        (5, 2) limits to pass as ``normalization`` to ``extract_crops``.
    """
    rows = fields.sort_values([WELL, SITE], kind="stable").to_dict("records")
    chosen = tuple(
        tuple(sorted((str(k), _hashable(v)) for k, v in rows[index].items()))
        for index in sample_rows(len(rows), n_sample)
    )
    return _plate_limits(chosen, tuple(percentiles), missing).copy()


def _hashable(value: object) -> object:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


@lru_cache(maxsize=64)
def _plate_limits(
    rows: tuple[tuple[tuple[str, object], ...], ...],
    percentiles: tuple[float, float],
    missing: Literal["error", "zeros"],
) -> np.ndarray:
    from napari_phenoscope.io import read_field

    images = (read_field(dict(row), channels=CHANNELS, missing=missing) for row in rows)
    return plate_percentiles(images, percentiles)


def limits_per_plate(
    fields: pd.DataFrame,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    missing: Literal["error", "zeros"] = "error",
) -> dict[str, np.ndarray]:
    """``plate_limits`` of every plate of a field index, keyed by the plate barcode (str)."""
    return {
        str(plate): plate_limits(group, percentiles, missing=missing)
        for plate, group in fields.groupby(PLATE, sort=False)
    }


def plate_limits_cache_clear() -> None:
    """Forget every memoised ``plate_limits`` result."""
    _plate_limits.cache_clear()


def normalize_image(image: np.ndarray, normalization: Normalization = "field") -> np.ndarray:
    """Scale a (C, Y, X) field to float32, each channel mapped to [0, 1] by percentiles.

    Parameters
    ----------
    image
        (C, Y, X) field.
    normalization
        ``"field"``: this field's ``channel_percentiles``; a (C, 2) array: these limits
        (e.g. ``plate_percentiles``); ``"none"``: cast to float32 only.

    Returns
    -------
    numpy.ndarray
        (C, Y, X) float32.
    """
    values = np.asarray(image, dtype=np.float32)
    if isinstance(normalization, str):
        if normalization == "none":
            return values
        if normalization != "field":
            raise ValueError(
                f"normalization must be 'field', 'none' or limits, not {normalization!r}"
            )
        limits = channel_percentiles(image)
    else:
        limits = np.asarray(normalization, dtype=np.float64)
        if limits.shape != (image.shape[0], 2):
            raise ValueError(f"limits have shape {limits.shape}; expected ({image.shape[0]}, 2)")
    low = limits[:, 0, None, None].astype(np.float32)
    span = (limits[:, 1] - limits[:, 0])[:, None, None].astype(np.float32)
    return np.clip((values - low) / span, 0.0, 1.0)

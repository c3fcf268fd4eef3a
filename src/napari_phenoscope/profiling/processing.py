"""Profile processing with pycytominer semantics: aggregate, normalise, select, spherise.

Each step takes a pycytominer-shaped table (``Metadata_*`` columns plus numeric features)
and returns a new one; each matches one pycytominer function on the same input (tested):

=================  ==============================================================
``aggregate``      ``pycytominer.aggregate`` (median or mean per strata)
``normalise``      ``pycytominer.normalize(method="mad_robustize")`` run per plate,
                   fitted on the whole plate or on its negative controls
``feature_select`` ``pycytominer.feature_select`` with ``variance_threshold``,
                   ``correlation_threshold`` and ``drop_na_columns``
``spherise``       ``pycytominer.normalize(method="spherize")`` (ZCA / ZCA-cor,
                   fitted on negative controls)
=================  ==============================================================

``normalize`` and ``spherize``, pycytominer's spelling and the names the README documented
before, are the same functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CONTROL_TYPE, NEGATIVE_CONTROL, PLATE, WELL
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.profiles import feature_columns, require_columns, split_profiles

#: Scale making the MAD a consistent estimate of the standard deviation (pycytominer's).
MAD_SCALE = 1.4826
FEATURE_SELECT_OPERATIONS = ("variance_threshold", "correlation_threshold", "drop_na_columns")


def aggregate(
    cells: pd.DataFrame,
    strata: Sequence[str] = (PLATE, WELL),
    operation: str = "median",
) -> pd.DataFrame:
    """Aggregate single-cell profiles to one profile per strata group (e.g. per well).

    Parameters
    ----------
    cells : pandas.DataFrame
        Single-cell table: ``strata`` columns and numeric features.
    strata : sequence of str
        Grouping columns (default plate and well).
    operation : {"median", "mean"}
        Aggregation of each feature.

    Returns
    -------
    pandas.DataFrame
        ``strata`` columns then features, one row per group, sorted by ``strata``.
    """
    if operation not in ("median", "mean"):
        raise ValueError(f"operation must be 'median' or 'mean', not {operation!r}")
    require_columns(cells, strata, "single-cell table")
    _, _, names = split_profiles(cells, "single-cell table", allow_nan=True)
    grouped = cells.groupby(list(strata), sort=True)[names]
    return getattr(grouped, operation)().reset_index()


def _negcon_mask(table: pd.DataFrame) -> np.ndarray:
    require_columns(table, [CONTROL_TYPE], "profiles")
    mask = (table[CONTROL_TYPE] == NEGATIVE_CONTROL).to_numpy()
    if not mask.any():
        raise ProfileTableError(f"no negative controls ({CONTROL_TYPE} == {NEGATIVE_CONTROL!r})")
    return mask


def normalise(
    profiles: pd.DataFrame,
    samples: str = "all",
    by: str | None = PLATE,
    epsilon: float = 1e-18,
) -> pd.DataFrame:
    """Robust-MAD normalization per plate: ``(x - median) / (MAD * 1.4826 + epsilon)``.

    Parameters
    ----------
    profiles : pandas.DataFrame
        Well (or cell) profiles.
    samples : {"all", "negcon"}
        Fit median and MAD on every row of the plate, or on its negative controls.
    by : str or None
        Column of the groups normalized separately (default the plate; None: whole table).
    epsilon : float
        pycytominer's ``mad_robustize_epsilon``.

    Returns
    -------
    pandas.DataFrame
        Same rows and columns, features normalized.
    """
    if samples not in ("all", "negcon"):
        raise ValueError(f"samples must be 'all' or 'negcon', not {samples!r}")
    _, feats, names = split_profiles(profiles, "profiles", allow_nan=True)
    reference = _negcon_mask(profiles) if samples == "negcon" else np.ones(len(feats), bool)
    groups = np.zeros(len(feats), dtype=np.int64)
    if by is not None:
        require_columns(profiles, [by], "profiles")
        groups = pd.factorize(profiles[by])[0]
    normalized = np.empty_like(feats)
    for group in np.unique(groups):
        rows = groups == group
        fit = feats[rows & reference]
        if len(fit) == 0:
            raise ProfileTableError(f"{by} {profiles[by][rows].iloc[0]!r} has no negative controls")
        median = np.nanmedian(fit, axis=0)
        mad = np.nanmedian(np.abs(fit - median), axis=0) * MAD_SCALE
        normalized[rows] = (feats[rows] - median) / (mad + epsilon)
    result = profiles.copy()
    result[names] = normalized
    return result


def variance_threshold_columns(profiles: pd.DataFrame, min_variance: float = 1e-6) -> list[str]:
    """Features whose population variance (ddof 0) is at most ``min_variance``."""
    names = feature_columns(profiles)
    variance = np.nanvar(profiles[names].to_numpy(dtype=np.float64), axis=0)
    return [name for name, value in zip(names, variance, strict=True) if not value > min_variance]


def na_columns(profiles: pd.DataFrame, cutoff: float = 0.05) -> list[str]:
    """Features whose share of NaN/inf values is above ``cutoff``."""
    names = feature_columns(profiles)
    values = profiles[names].to_numpy(dtype=np.float64)
    share = (~np.isfinite(values)).mean(axis=0)
    return [name for name, value in zip(names, share, strict=True) if value > cutoff]


def correlation_threshold_columns(profiles: pd.DataFrame, threshold: float = 0.9) -> list[str]:
    """Features to drop so that no remaining pair has Pearson correlation above ``threshold``.

    pycytominer's rule: for every pair correlated above the threshold, drop the member with
    the larger sum of absolute correlations to all features.
    """
    names = feature_columns(profiles)
    correlation = profiles[names].corr(method="pearson").to_numpy()
    total = np.nansum(np.abs(correlation), axis=0)
    order = np.argsort(total, kind="stable")
    position = np.empty(len(names), dtype=np.int64)
    position[order] = np.arange(len(names))
    later, earlier = np.nonzero(np.tril(correlation > threshold, k=-1))
    dropped = np.where(position[later] > position[earlier], later, earlier)
    return [names[i] for i in sorted(set(dropped.tolist()))]


def feature_select(
    profiles: pd.DataFrame,
    operations: Sequence[str] = FEATURE_SELECT_OPERATIONS,
    min_variance: float = 1e-6,
    corr_threshold: float = 0.9,
    na_cutoff: float = 0.05,
) -> pd.DataFrame:
    """Drop uninformative features (pycytominer ``feature_select``).

    The operations run in order, each on the features the previous ones kept (as
    pycytominer does). ``drop_na_columns`` also counts infinite values as missing.
    """
    remaining = profiles
    for operation in operations:
        if operation == "variance_threshold":
            excluded = variance_threshold_columns(remaining, min_variance)
        elif operation == "correlation_threshold":
            excluded = correlation_threshold_columns(remaining, corr_threshold)
        elif operation == "drop_na_columns":
            excluded = na_columns(remaining, na_cutoff)
        else:
            raise ValueError(f"unknown feature selection operation {operation!r}")
        remaining = remaining.drop(columns=excluded)
    return remaining


def spherise(
    profiles: pd.DataFrame,
    method: str = "ZCA-cor",
    epsilon: float = 1e-6,
    samples: str = "negcon",
) -> pd.DataFrame:
    """ZCA whitening fitted on the negative controls (pycytominer ``Spherize``).

    Parameters
    ----------
    profiles : pandas.DataFrame
        Well profiles without NaN features.
    method : {"ZCA", "ZCA-cor"}
        ``ZCA-cor`` standardizes the features (fit rows) before whitening.
    epsilon : float
        Added to the singular values.
    samples : {"negcon", "all"}
        Rows the transform is fitted on.

    Returns
    -------
    pandas.DataFrame
        Same rows and columns, features whitened.
    """
    if method not in ("ZCA", "ZCA-cor"):
        raise ValueError(f"method must be 'ZCA' or 'ZCA-cor', not {method!r}")
    _, feats, names = split_profiles(profiles, "profiles")
    fit = feats[_negcon_mask(profiles)] if samples == "negcon" else feats
    mean = fit.mean(axis=0)
    scale = fit.std(axis=0) if method == "ZCA-cor" else np.ones(fit.shape[1])
    scale = np.where(scale == 0, 1.0, scale)  # sklearn's StandardScaler leaves these as is
    centered = (fit - mean) / scale
    n, d = centered.shape
    rank = np.linalg.matrix_rank(centered)
    if rank not in (d, n - 1):
        raise ProfileTableError(
            f"spherise: the {n} fit profiles have rank {rank} < {min(d, n - 1)} "
            "(linearly dependent features); run feature_select first"
        )
    _, sigma, vt = np.linalg.svd(centered, full_matrices=True)
    if n <= d:
        sigma = np.concatenate((sigma[:rank], np.repeat(sigma[rank - 1], d - rank)))
    whitening = (vt / (sigma + epsilon)[:, np.newaxis]).T * np.sqrt(n - 1) @ vt
    result = profiles.copy()
    result[names] = ((feats - mean) / scale) @ whitening
    return result


#: pycytominer's spelling, and the names README.md and docs/ documented before.
normalize = normalise
spherize = spherise

"""Profile tables on disk: Parquet, CSV and gzipped CSV, pycytominer-shaped.

A profile table holds ``Metadata_*`` columns and numeric feature columns, one row per cell,
well or perturbation. These functions read and write such tables and split them into their
metadata and features, with one-line errors naming the file or column at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from napari_phenoscope.constants import is_metadata_column
from napari_phenoscope.errors import ProfileTableError

#: File suffixes understood by :func:`read_profiles` / :func:`write_profiles`.
SUFFIXES = (".parquet", ".csv", ".csv.gz")


def _format_of(path: Path) -> str:
    name = path.name.lower()
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return suffix
    raise ProfileTableError(f"{path}: unknown profile table format (use {', '.join(SUFFIXES)})")


def read_profiles(path: str | Path) -> pd.DataFrame:
    """Read a profile table from Parquet, CSV or CSV.gz.

    Parameters
    ----------
    path : str or Path
        ``*.parquet``, ``*.csv`` or ``*.csv.gz``.

    Returns
    -------
    pandas.DataFrame
        The table as stored (metadata columns keep their types).

    Raises
    ------
    ProfileTableError
        If the file is missing, has an unknown suffix, cannot be parsed or is empty.
    """
    path = Path(path)
    kind = _format_of(path)
    if not path.is_file():
        raise ProfileTableError(f"{path}: no such profile table")
    try:
        if kind == ".parquet":
            table = pd.read_parquet(path)
        else:
            table = pd.read_csv(path, low_memory=False)
    except (OSError, ValueError) as error:
        raise ProfileTableError(f"{path}: cannot read as {kind}: {error}") from error
    if table.empty:
        raise ProfileTableError(f"{path}: the profile table has no rows")
    return table


def write_profiles(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a profile table as Parquet, CSV or CSV.gz (chosen by suffix); returns the path."""
    path = Path(path)
    kind = _format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == ".parquet":
        table.to_parquet(path, index=False)
    else:
        table.to_csv(path, index=False)  # pandas gzips ``.gz`` by suffix
    return path


def metadata_columns(table: pd.DataFrame) -> list[str]:
    """The ``Metadata_*`` columns, in table order."""
    return [column for column in table.columns if is_metadata_column(str(column))]


def feature_columns(table: pd.DataFrame, numeric_only: bool = False) -> list[str]:
    """The non-metadata columns (the features), in table order (pycytominer's convention).

    Parameters
    ----------
    table : pandas.DataFrame
        A profile table.
    numeric_only : bool
        Only the numeric ones: the features to compare, where a text column that is not
        ``Metadata_*`` (a cell table's ``QC_reason``) is no feature. Leave False to check
        the columns, as :func:`split_profiles` does, and name a text column in an error.
    """
    return [
        column
        for column in table.columns
        if not is_metadata_column(str(column))
        and (not numeric_only or pd.api.types.is_numeric_dtype(table[column]))
    ]


def feature_matrix(table: pd.DataFrame, feature_columns: Sequence[str]) -> np.ndarray:
    """The features of ``table`` as a finite float32 matrix.

    Raises
    ------
    ProfileTableError
        If a feature column is missing or non-numeric, or a value is NaN or infinite.
    """
    missing = [c for c in feature_columns if c not in table.columns]
    if missing:
        raise ProfileTableError(f"profile table has no feature column {missing[0]}")
    if not feature_columns:
        raise ProfileTableError("profile table has no feature columns")
    try:
        values = table[list(feature_columns)].to_numpy(dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ProfileTableError(f"profile table has non-numeric features: {error}") from None
    bad = ~np.isfinite(values)
    if bad.any():
        column = feature_columns[int(np.nonzero(bad.any(axis=0))[0][0])]
        raise ProfileTableError(f"profile table has NaN or infinite values in {column}")
    return values


def require_columns(table: pd.DataFrame, columns: Sequence[str], source: str = "table") -> None:
    """Raise ``ProfileTableError`` naming the first of ``columns`` missing from ``table``."""
    for column in columns:
        if column not in table.columns:
            raise ProfileTableError(f"{source}: missing required column {column!r}")


def split_profiles(
    table: pd.DataFrame, source: str = "table", allow_nan: bool = False
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Split a profile table into metadata, a float feature matrix and the feature names.

    Parameters
    ----------
    table : pandas.DataFrame
        Profiles with ``Metadata_*`` and feature columns.
    source : str
        Name used in error messages (the file name).
    allow_nan : bool
        Accept NaN/inf feature values (e.g. before feature selection drops them).

    Returns
    -------
    meta : pandas.DataFrame
        The metadata columns.
    feats : numpy.ndarray, shape (n, d)
        float64 features.
    names : list of str
        Feature column names.

    Raises
    ------
    ProfileTableError
        No feature column, a non-numeric feature column, or (unless ``allow_nan``) a NaN
        or infinite value, each naming the column.
    """
    names = feature_columns(table)
    if not names:
        raise ProfileTableError(f"{source}: no feature columns (every column is Metadata_*)")
    for name in names:
        if not pd.api.types.is_numeric_dtype(table[name]) or pd.api.types.is_bool_dtype(
            table[name]
        ):
            raise ProfileTableError(
                f"{source}: feature column {name!r} is not numeric; "
                "prefix metadata columns with 'Metadata_'"
            )
    feats = table[names].to_numpy(dtype=np.float64)
    if not allow_nan:
        bad = ~np.isfinite(feats).all(axis=0)
        if bad.any():
            raise ProfileTableError(
                f"{source}: feature column {names[int(np.flatnonzero(bad)[0])]!r} has NaN or "
                f"infinite values ({int(bad.sum())} such column(s)); run feature selection"
            )
    return table[metadata_columns(table)], feats, names

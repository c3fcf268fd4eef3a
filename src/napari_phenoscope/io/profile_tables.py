"""Anyone's profile tables: pycytominer-shaped CSV / CSV.gz / Parquet, checked and split.

A published profile table (``*_normalized_feature_select_negcon_batch.csv.gz``, a
pycytominer ``SingleCells`` export, our own ``well_profiles_vit.parquet``) holds
``Metadata_*`` columns and numeric feature columns, one row per cell, well or perturbation.
:func:`load_profile_table` reads one the way pycytominer does (``pandas.read_csv``
defaults: empty cells and ``NA`` are missing values, numeric metadata such as doses stay
numbers) and checks what the docks and ``phenoscope evaluate`` rely on, failing with one
line that names the column: duplicated column names, no feature column, a feature column
of text. Feature columns with NaN or infinite values are dropped and listed (pycytominer's
``drop_na_columns`` with cutoff 0): cosine similarity and UMAP cannot use them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from napari_phenoscope.constants import PLATE, WELL
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.profiles import (
    SUFFIXES,
    feature_columns,
    metadata_columns,
    read_profiles,
)

#: Profile table levels: one row per cell, per (plate, well), or per something else
#: (a consensus profile per perturbation, a table without plate and well).
LEVELS = ("cell", "well", "other")


@dataclass(frozen=True)
class ProfileTable:
    """A profile table split into metadata and a float feature matrix.

    Attributes
    ----------
    metadata : pandas.DataFrame
        The ``Metadata_*`` columns with their pycytominer types (index 0..n-1).
    features : numpy.ndarray, shape (n, d)
        float64 features, finite: the values a copairs or pycytominer user gets from
        ``df[features].values`` (copairs computes cosines in the input's precision, so
        float32 would change near-tied ranks and break equality with copairs).
    feature_names : list of str
        Feature column names, in table order.
    source : str
        The file name (used in messages).
    level : {"cell", "well", "other"}
        ``"well"`` when (plate, well) is unique per row, ``"cell"`` when rows repeat a
        (plate, well) or carry an object number, ``"other"`` without plate and well.
    dropped : list of str
        Feature columns dropped for NaN or infinite values.
    """

    metadata: pd.DataFrame
    features: np.ndarray
    feature_names: list[str]
    source: str
    level: str
    dropped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.metadata)

    def frame(self) -> pd.DataFrame:
        """Metadata and features as one pycytominer-shaped DataFrame."""
        feats = pd.DataFrame(self.features, columns=self.feature_names)
        return pd.concat([self.metadata.reset_index(drop=True), feats], axis=1)


def check_unique_columns(columns, source: str) -> None:
    """Raise ``ProfileTableError`` naming the first column name that appears twice."""
    counts = Counter(str(column) for column in columns)
    for column, count in counts.items():
        if count > 1:
            raise ProfileTableError(f"{source}: column {column!r} appears {count} times")


def _header(path: Path) -> list[str]:
    """Column names as stored, before pandas renames duplicates (``a``, ``a.1``)."""
    try:
        if path.name.lower().endswith(".parquet"):
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        return [str(name) for name in pd.read_csv(path, header=None, nrows=1).iloc[0]]
    except (OSError, ValueError) as error:
        raise ProfileTableError(f"{path}: cannot read the header: {error}") from error


def table_level(metadata: pd.DataFrame) -> str:
    """``"cell"``, ``"well"`` or ``"other"`` (see :class:`ProfileTable`)."""
    if PLATE not in metadata.columns or WELL not in metadata.columns:
        return "other"
    object_columns = [c for c in metadata.columns if c.lower().endswith("objectnumber")]
    if object_columns or metadata.duplicated([PLATE, WELL]).any():
        return "cell"
    return "well"


def _feature_matrix(table: pd.DataFrame, names: list[str], source: str) -> np.ndarray:
    for name in names:
        column = table[name]
        if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            example = column.dropna().astype(str).head(1).tolist()
            shown = f" (e.g. {example[0]!r})" if example else ""
            raise ProfileTableError(
                f"{source}: feature column {name!r} holds text{shown}; "
                "name metadata columns 'Metadata_...'"
            )
    return table[names].to_numpy(dtype=np.float64)


def profile_table(table: pd.DataFrame, source: str = "table") -> ProfileTable:
    """Check and split an in-memory pycytominer-shaped table (see :func:`load_profile_table`).

    Parameters
    ----------
    table : pandas.DataFrame
        ``Metadata_*`` columns and numeric feature columns.
    source : str
        Name used in messages.

    Returns
    -------
    ProfileTable

    Raises
    ------
    ProfileTableError
        Duplicated column names, no rows, no feature column, a feature column of text, or
        no feature column left without NaN.
    """
    check_unique_columns(table.columns, source)
    if table.empty:
        raise ProfileTableError(f"{source}: the profile table has no rows")
    names = [str(name) for name in feature_columns(table)]
    if not names:
        raise ProfileTableError(
            f"{source}: no feature columns (every column is 'Metadata_...'); "
            "a profile table needs numeric feature columns"
        )
    feats = _feature_matrix(table, names, source)
    finite = np.isfinite(feats).all(axis=0)
    if not finite.any():
        raise ProfileTableError(
            f"{source}: every feature column has NaN or infinite values "
            f"(e.g. {names[0]!r}); nothing to compare"
        )
    dropped = [name for name, ok in zip(names, finite, strict=True) if not ok]
    metadata = table[metadata_columns(table)].reset_index(drop=True)
    return ProfileTable(
        metadata=metadata,
        features=np.ascontiguousarray(feats[:, finite]),
        feature_names=[name for name, ok in zip(names, finite, strict=True) if ok],
        source=source,
        level=table_level(metadata),
        dropped=dropped,
    )


def load_profile_table(path: str | Path) -> ProfileTable:
    """Read and check a pycytominer-shaped profile table (CSV, CSV.gz or Parquet).

    Parameters
    ----------
    path : str or Path
        ``*.csv``, ``*.csv.gz`` or ``*.parquet``; well-level or single-cell.

    Returns
    -------
    ProfileTable
        Metadata with pycytominer types (empty strings read as NaN, numeric
        ``Metadata_`` columns stay numeric), finite float64 features, the level.

    Raises
    ------
    ProfileTableError
        One line naming the file and the column: duplicated column names, no feature
        column, a feature column of text, an unreadable or empty file.

    Examples
    --------
    >>> table = load_profile_table("BR00116991_normalized_feature_select_negcon_batch.csv.gz")
    ... # doctest: +SKIP
    >>> table.level, table.features.shape  # doctest: +SKIP
    ('well', (384, 727))
    """
    path = Path(path)
    if path.is_file() and path.name.lower().endswith(SUFFIXES):
        # before pandas or pyarrow rename or reject a repeated name
        check_unique_columns(_header(path), path.name)
    return profile_table(read_profiles(path), source=path.name)


def describe(table: ProfileTable) -> str:
    """One line: rows, level, features, dropped columns, plates (what the CLI prints)."""
    text = f"{table.source}: {len(table)} {table.level}-level profiles x "
    text += f"{len(table.feature_names)} features"
    if PLATE in table.metadata.columns:
        text += f", {table.metadata[PLATE].nunique()} plate(s)"
    if table.level == "cell":
        text += f", {table.metadata[[PLATE, WELL]].drop_duplicates().shape[0]} wells"
    if table.dropped:
        shown = ", ".join(table.dropped[:3]) + (" ..." if len(table.dropped) > 3 else "")
        text += f"; dropped {len(table.dropped)} feature column(s) with NaN: {shown}"
    return text

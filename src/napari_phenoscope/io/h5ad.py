"""Profile tables out to the single-cell ecosystem: AnnData ``.h5ad`` files.

scanpy and its users read AnnData: ``X`` the (profiles x features) matrix, ``obs`` one row
of metadata per profile, ``var`` one row per feature, ``obsm`` embeddings such as
``X_umap`` (scanpy's key, so ``scanpy.pl.umap`` draws it). Numeric metadata keep their
types, text becomes categories (missing stays missing), and label lists (Parquet list
columns) become ``|``-joined text, the form pycytominer writes in CSV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.profile_tables import ProfileTable

#: ``obsm`` key of the UMAP, as scanpy names it.
UMAP_KEY = "X_umap"


def _is_list(value) -> bool:
    return isinstance(value, list | tuple | np.ndarray)


def _storable(column: pd.Series) -> pd.Series:
    """A metadata column every anndata writes: numbers as they are, text as categories.

    Categories are scanpy's own form for text (``strings_to_categoricals``) and keep
    missing values missing (code -1), where nullable string arrays need an opt-in in
    some anndata versions. Label lists are joined with ``|``.
    """
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return column
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column
    values = column.astype(object)
    present = values.map(lambda value: _is_list(value) or not pd.isna(value)).astype(bool)
    text = values[present].map(
        lambda value: "|".join(map(str, value)) if _is_list(value) else str(value)
    )
    return pd.Categorical(text.reindex(column.index), categories=sorted(set(text)))


def to_anndata(table: ProfileTable, umap: np.ndarray | None = None):
    """Build an ``anndata.AnnData`` from a profile table.

    Parameters
    ----------
    table : ProfileTable
        Metadata and features (see ``load_profile_table``).
    umap : numpy.ndarray, shape (len(table), 2), optional
        A layout of the profiles, stored as ``obsm["X_umap"]``.

    Returns
    -------
    anndata.AnnData
        ``X`` float32 features, ``obs`` the metadata (index ``"0".."n-1"``), ``var``
        indexed by feature name, ``uns["phenoscope"]`` the source table and its level.
    """
    import anndata

    obs = pd.DataFrame(
        {column: _storable(table.metadata[column]) for column in table.metadata.columns}
    )
    obs.index = pd.Index([str(i) for i in range(len(table))], dtype=object)
    var = pd.DataFrame(index=pd.Index(table.feature_names, name="feature", dtype=object))
    adata = anndata.AnnData(X=table.features.astype(np.float32), obs=obs, var=var)
    adata.uns["phenoscope"] = {
        "source": table.source,
        "level": table.level,
        "dropped_features": list(table.dropped),
    }
    if umap is not None:
        umap = np.asarray(umap, dtype=np.float32)
        if umap.shape != (len(table), 2):
            raise ProfileTableError(
                f"{table.source}: UMAP has shape {umap.shape}, expected ({len(table)}, 2)"
            )
        adata.obsm[UMAP_KEY] = umap
    return adata


def write_h5ad(table: ProfileTable, path: str | Path, umap: np.ndarray | None = None) -> Path:
    """Write a profile table as an AnnData ``.h5ad`` file (see :func:`to_anndata`).

    Examples
    --------
    >>> write_h5ad(load_profile_table("profiles.csv.gz"), "profiles.h5ad")  # doctest: +SKIP
    """
    path = Path(path)
    if path.suffix.lower() != ".h5ad":
        raise ProfileTableError(f"{path}: an AnnData file is named *.h5ad")
    path.parent.mkdir(parents=True, exist_ok=True)
    to_anndata(table, umap).write_h5ad(path, compression="gzip")
    return path

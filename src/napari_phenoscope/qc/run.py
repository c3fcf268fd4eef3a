"""Measure the quality of every field of a field index: read, segment, measure.

What ``phenoscope qc`` runs (in this process, with a progress bar); ``phenoscope profile``
measures the same things inside its own field loop, from the segmentation it profiles.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.io.fields import Field, iter_fields
from napari_phenoscope.qc.plate import field_quality
from napari_phenoscope.segmentation.field import segment_field


def measure_one_field(field: Field, pixel_size: float | None = None) -> tuple[dict, pd.DataFrame]:
    """Read and segment one field (``segment_field``) and measure its quality."""
    image = field.read()
    segmentation = segment_field(image, channels=CHANNELS, pixel_size=pixel_size)
    return field_quality(image, segmentation.nuclei, segmentation.cells, field.key)


def measure_fields(
    fields: pd.DataFrame,
    pixel_size: float | None = None,
    missing: Literal["error", "zeros"] = "error",
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The field measures and cell measures of every field of ``fields`` (an index).

    Returns
    -------
    field_measures, cell_measures : pandas.DataFrame
        One row per field, and one row per cell (``plate.field_quality``).
    """
    rows, cells = [], []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(fields), desc="QC", unit="field")
    for field in iter_fields(fields, missing=missing):
        row, cell_measures = measure_one_field(field, pixel_size)
        rows.append(row)
        cells.append(cell_measures)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return pd.DataFrame(rows), pd.concat(cells, ignore_index=True)

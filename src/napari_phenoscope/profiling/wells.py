"""Cells -> well profiles, the pipeline's recipe: median per well, normalized, selected.

The steps are ``profiles``' pycytominer operations; this module chooses them (median,
robust normalization to each plate's negative controls, feature selection) and refuses a
plate without enough negative controls.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from napari_phenoscope.constants import OBJECT_NUMBER, PLATE, SITE, WELL
from napari_phenoscope.errors import ProfileTableError


def well_profiles(cells: pd.DataFrame, feature_columns: Sequence[str]) -> pd.DataFrame:
    """Median-aggregate cells to wells, robust-normalise to negcon per plate, select features.

    Parameters
    ----------
    cells
        Single-cell table with the wells' ``Metadata_*`` annotations and ``feature_columns``.
    feature_columns
        The features of one feature set.

    Returns
    -------
    pandas.DataFrame
        One row per plate and well: the well's ``Metadata_*`` columns (with
        ``Metadata_Count_Cells``), then the selected features (pycytominer layout).

    Raises
    ------
    ProfileTableError
        If a plate has no negative-control well.

    Notes
    -----
    A feature whose negative controls do not vary on some plate (MAD 0, e.g. a minimum
    intensity that is 0 in every control well) cannot be normalised to them: it would be
    divided by pycytominer's epsilon and dominate every similarity, so it is dropped before
    the usual variance, correlation and NaN selection.
    """
    from napari_phenoscope.profiling import profiles

    features = list(feature_columns)
    well_metadata = [c for c in cells.columns if c.startswith("Metadata_") and c not in _PER_CELL]
    wells = cells[well_metadata].drop_duplicates([PLATE, WELL]).set_index([PLATE, WELL])
    counts = cells.groupby([PLATE, WELL]).size().rename(CELL_COUNT)
    medians = profiles.aggregate(cells[[PLATE, WELL, *features]], (PLATE, WELL), "median")
    table = wells.join(counts).join(medians.set_index([PLATE, WELL])).reset_index()
    _check_controls(table)
    table = table.drop(columns=_constant_in_controls(table, features))
    normalized = profiles.normalize(table, samples="negcon", by=PLATE)
    return profiles.feature_select(normalized).reset_index(drop=True).copy()  # defragment


_PER_CELL = (SITE, OBJECT_NUMBER)
CELL_COUNT = "Metadata_Count_Cells"


def _check_controls(table: pd.DataFrame) -> None:
    """Normalising to controls needs two negative-control wells per plate (a MAD)."""
    from napari_phenoscope.constants import CONTROL_TYPE, NEGATIVE_CONTROL

    is_control = table[CONTROL_TYPE] == NEGATIVE_CONTROL
    controls = is_control.groupby(table[PLATE]).sum()
    short = controls[controls < 2]
    if len(short):
        listed = ", ".join(f"{plate} ({count})" for plate, count in short.items())
        raise ProfileTableError(
            f"normalising to negative controls needs at least two control wells per plate; "
            f"plate(s) with fewer among the profiled wells: {listed}"
        )


def _constant_in_controls(table: pd.DataFrame, features: Sequence[str]) -> list[str]:
    """Features with zero MAD over the negative-control wells of at least one plate."""
    from napari_phenoscope.constants import CONTROL_TYPE, NEGATIVE_CONTROL

    controls = table[table[CONTROL_TYPE] == NEGATIVE_CONTROL]
    if controls.empty:
        return []  # normalize names the problem
    values = controls[list(features)]
    medians = values.groupby(controls[PLATE]).transform("median")
    mad = (values - medians).abs().groupby(controls[PLATE]).median()
    return [name for name in features if (mad[name] == 0).any()]

"""Cells -> well profiles, the pipeline's recipe: median per well, normalized, selected.

The steps are ``profiles``' pycytominer operations; this module chooses them (median,
robust normalization to each plate's negative controls, feature selection) and refuses a
plate without enough negative controls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from napari_phenoscope.constants import (
    CONTROL_TYPE,
    NEGATIVE_CONTROL,
    OBJECT_NUMBER,
    PLATE,
    SITE,
    WELL,
)
from napari_phenoscope.errors import PhenoscopeWarning
from napari_phenoscope.profiling import processing


def well_profiles(
    cells: pd.DataFrame, feature_columns: Sequence[str], warn: bool = True
) -> pd.DataFrame:
    """Median-aggregate cells to wells, robust-normalise to negcon per plate, select features.

    Parameters
    ----------
    cells
        Single-cell table with the wells' ``Metadata_*`` annotations and ``feature_columns``.
    feature_columns
        The features of one feature set.
    warn
        Warn when the plates can not be normalised to their negative controls (callers that
        show ``normalisation_plan``'s note themselves pass ``False``).

    Returns
    -------
    pandas.DataFrame
        One row per plate and well: the well's ``Metadata_*`` columns (with
        ``Metadata_Count_Cells``), then the selected features (pycytominer layout).

    Warns
    -----
    PhenoscopeWarning
        If a plate has fewer than two negative-control wells (no plate map, or none among
        the chosen wells): every plate is then normalised to all of its wells
        (pycytominer's ``samples="all"``), or, with a plate of a single well, not at all.

    Notes
    -----
    A feature whose reference wells do not vary on some plate (MAD 0, e.g. a minimum
    intensity that is 0 in every control well, or a MAD of rounding noise, e.g. a coarse
    granularity scale that is 0 up to 1e-14 in small cells; see ``MAD_RELATIVE_TOLERANCE``)
    cannot be normalised to them: it would be scaled up by 1e12 or more and dominate every
    similarity, so it is dropped before the usual variance, correlation and NaN selection.
    """
    return normalise_well_medians(well_medians(cells, feature_columns), feature_columns, warn)


def well_medians(cells: pd.DataFrame, feature_columns: Sequence[str]) -> pd.DataFrame:
    """One row per plate and well (in order of first appearance): the well's ``Metadata_*``
    columns, ``Metadata_Count_Cells`` and the median of each feature over its cells.

    Per-well medians of disjoint sets of wells concatenate to those of the whole table,
    which lets ``outputs.assemble_outputs`` aggregate one well at a time.
    """
    features = list(feature_columns)
    well_metadata = [c for c in cells.columns if c.startswith("Metadata_") and c not in _PER_CELL]
    wells = cells[well_metadata].drop_duplicates([PLATE, WELL]).set_index([PLATE, WELL])
    counts = cells.groupby([PLATE, WELL]).size().rename(CELL_COUNT)
    medians = processing.aggregate(cells[[PLATE, WELL, *features]], (PLATE, WELL), "median")
    return wells.join(counts).join(medians.set_index([PLATE, WELL])).reset_index()


def normalise_well_medians(
    table: pd.DataFrame, feature_columns: Sequence[str], warn: bool = True
) -> pd.DataFrame:
    """``well_medians`` -> well profiles: normalised per plate and feature-selected."""
    features = list(feature_columns)
    samples = normalisation_samples(table) if warn else normalisation_plan(table)[0]
    if samples == "none":
        return processing.feature_select(table, ["drop_na_columns"]).reset_index(drop=True).copy()
    table = table.drop(columns=_constant_in_reference(table, features, samples))
    normalized = processing.normalise(table, samples=samples, by=PLATE)
    return processing.feature_select(normalized).reset_index(drop=True).copy()  # defragment


_PER_CELL = (SITE, OBJECT_NUMBER)

#: A reference MAD at or below ``max(relative * the feature's largest |value| on the plate,
#: absolute)`` is rounding noise, not spread: the feature is dropped, not divided by it.
MAD_RELATIVE_TOLERANCE = 1e-9
MAD_ABSOLUTE_TOLERANCE = 1e-12
CELL_COUNT = "Metadata_Count_Cells"


def normalisation_plan(table: pd.DataFrame) -> tuple[Literal["negcon", "all", "none"], str]:
    """How to normalise well profiles, and why if not to the controls: ``(samples, note)``.

    ``"negcon"`` (note ``""``) when every plate has two negative-control wells (a MAD); else
    ``"all"`` when every plate has two wells; else ``"none"`` (a plate of one well has no
    spread to scale by). The note is one line naming the plates (what the Profile dock shows
    and ``normalisation_samples`` warns). ``table`` needs ``Metadata_Plate``, ``Metadata_Well``
    and, where known, ``Metadata_control_type``: one row per well, or per cell.
    """
    wells = table.drop_duplicates([PLATE, WELL])
    if CONTROL_TYPE in wells.columns:
        is_control = wells[CONTROL_TYPE] == NEGATIVE_CONTROL
    else:
        is_control = pd.Series(False, index=wells.index)
    controls = is_control.groupby(wells[PLATE]).sum()
    short = controls[controls < 2]
    if short.empty:
        return "negcon", ""
    listed = ", ".join(f"{plate} ({count})" for plate, count in short.items())
    note = (
        f"fewer than two negative-control wells ({CONTROL_TYPE} = {NEGATIVE_CONTROL}) on "
        f"plate(s) {listed}; "
    )
    per_plate = wells.groupby(PLATE).size()
    single = per_plate[per_plate < 2]
    if single.empty:
        return "all", note + "well profiles are normalised to all wells of each plate"
    return "none", note + (
        f"plate(s) {', '.join(map(str, single.index))} have one well: well profiles are "
        "the per-well medians, not normalised"
    )


def normalisation_samples(table: pd.DataFrame) -> Literal["negcon", "all", "none"]:
    """``normalisation_plan``'s samples; warns its note once (``PhenoscopeWarning``)."""
    import warnings

    samples, note = normalisation_plan(table)
    if note:
        warnings.warn(note, PhenoscopeWarning, stacklevel=3)
    return samples


def _constant_in_reference(
    table: pd.DataFrame, features: Sequence[str], samples: str = "negcon"
) -> list[str]:
    """Features with zero MAD over the reference wells (controls, or all) of some plate."""
    reference = table if samples == "all" else table[table[CONTROL_TYPE] == NEGATIVE_CONTROL]
    if reference.empty:
        return []
    values = reference[list(features)]
    medians = values.groupby(reference[PLATE]).transform("median")
    mad = (values - medians).abs().groupby(reference[PLATE]).median()
    # Rounding noise is no spread: a feature that is 0 up to 1e-14 in every control well (a
    # coarse granularity scale of small cells) would otherwise be scaled up to ~1e14.
    magnitude = table[list(features)].abs().groupby(table[PLATE]).max()
    tolerance = np.maximum(
        MAD_RELATIVE_TOLERANCE * magnitude.loc[mad.index], MAD_ABSOLUTE_TOLERANCE
    )
    unscalable = mad <= tolerance
    return [name for name in features if unscalable[name].any()]

"""Anyone's profile tables as feature sets of the session, with or without images.

A table read by ``io.load_profile_table`` becomes one feature set: its well-level profiles
(the table itself, or the median of its cells per well for a single-cell table) go to
``session.well_profiles[name]`` for the Profile map, Similar perturbations and Retrieval docks;
a single-cell table's rows also join ``session.cells`` (keyed by plate, well, site and
object number) so that the map of cells and cell queries work on it. With a plate opened,
the table's wells must be the plate's; without one, a session without images holds them
(the docks then show numbers only: a click on a point selects it but opens no field).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from napari_phenoscope.constants import (
    CENTER_X,
    CENTER_Y,
    LABEL,
    OBJECT_NUMBER,
    PLATE,
    SITE,
    WELL,
)
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.annotations import Annotations, find_annotations
from napari_phenoscope.io.profile_tables import ProfileTable
from napari_phenoscope.session.state import PlateSession, ViewerState

#: ``session.extras`` key of the annotation columns the user chose (``phenoscope view
#: --target-column`` ...): ``find_annotations`` keywords.
ANNOTATION_CHOICE = "annotation_columns"

#: Centroid columns of CellProfiler / pycytominer tables, best first: (x, y).
_CENTROIDS = (
    ("Metadata_Nuclei_Location_Center_X", "Metadata_Nuclei_Location_Center_Y"),
    ("Nuclei_Location_Center_X", "Nuclei_Location_Center_Y"),
    ("Metadata_Cells_Location_Center_X", "Metadata_Cells_Location_Center_Y"),
    ("Cells_Location_Center_X", "Cells_Location_Center_Y"),
    ("Metadata_Location_Center_X", "Metadata_Location_Center_Y"),
)
_OBJECT_NUMBERS = (OBJECT_NUMBER, "Metadata_Cells_Number_Object_Number")


def feature_set_name(source: str, taken) -> str:
    """A short, unused feature-set name from a file name (``BR00116991_normalized...``)."""
    stem = re.sub(r"\.(csv\.gz|csv|parquet)$", "", Path(source).name, flags=re.IGNORECASE)
    name, n = stem or "profiles", 2
    while name in taken:
        name, n = f"{stem}-{n}", n + 1
    return name


def _keyed(metadata: pd.DataFrame, source: str) -> pd.DataFrame:
    """Metadata with the join key as the session spells it: plate and well as text."""
    for column in (PLATE, WELL):
        if column not in metadata.columns:
            raise ProfileTableError(
                f"{source}: no {column} column; the docks place profiles by plate and well "
                "(phenoscope evaluate and export take the table as it is)"
            )
        if metadata[column].isna().any():
            raise ProfileTableError(f"{source}: {column} is missing in some rows")
    return metadata.assign(**{PLATE: metadata[PLATE].astype(str), WELL: metadata[WELL].astype(str)})


def well_profiles_of(table: ProfileTable) -> pd.DataFrame:
    """Well-level profiles of a table: the table itself, or the median of each well's cells.

    Metadata columns that are constant within every well (the perturbation, dose, control
    type) are kept; per-cell ones (site, object number) are not.
    """
    metadata = _keyed(table.metadata, table.source)
    features = pd.DataFrame(table.features, columns=table.feature_names)
    if table.level != "cell":
        if metadata.duplicated([PLATE, WELL]).any():
            raise ProfileTableError(f"{table.source}: several rows share a plate and well")
        return pd.concat([metadata, features], axis=1)
    groups = metadata.groupby([PLATE, WELL], sort=False)
    constant = [
        column
        for column in metadata.columns
        if column not in (PLATE, WELL) and (groups[column].nunique(dropna=False) <= 1).all()
    ]
    wells = groups[constant].first().reset_index() if constant else groups.size().reset_index()
    wells = wells[[PLATE, WELL, *constant]]
    medians = features.groupby([metadata[PLATE], metadata[WELL]], sort=False).median()
    medians = medians.reset_index(drop=True)
    return pd.concat([wells.reset_index(drop=True), medians], axis=1)


def _object_numbers(metadata: pd.DataFrame) -> np.ndarray:
    for column in _OBJECT_NUMBERS:
        if column in metadata.columns and metadata[column].notna().all():
            return metadata[column].to_numpy(dtype=np.int64)
    # no object number: number the cells of each field 1, 2, ... in table order
    return metadata.groupby([PLATE, WELL, SITE], sort=False).cumcount().to_numpy() + 1


def cells_of(table: ProfileTable) -> pd.DataFrame:
    """The rows of a single-cell table as ``session.cells`` rows (key, label, centroid)."""
    metadata = _keyed(table.metadata, table.source)
    if SITE not in metadata.columns:
        metadata = metadata.assign(**{SITE: 1})
    metadata = metadata.assign(**{SITE: metadata[SITE].fillna(1).astype(np.int64)})
    metadata[LABEL] = _object_numbers(metadata)
    for x, y in _CENTROIDS:
        names = table.feature_names
        source = metadata if x in metadata.columns else None
        if source is None and x in names and y in names:
            source = pd.DataFrame(
                table.features[:, [names.index(x), names.index(y)]], columns=[x, y]
            )
        if source is not None and y in source.columns:
            metadata[CENTER_X] = source[x].to_numpy(dtype=float)
            metadata[CENTER_Y] = source[y].to_numpy(dtype=float)
            break
    features = pd.DataFrame(table.features, columns=table.feature_names)
    return pd.concat([metadata.reset_index(drop=True), features], axis=1)


def session_without_images(table: ProfileTable, source: str | Path) -> PlateSession:
    """A session whose plates are known only from a profile table (no field to show)."""
    metadata = _keyed(table.metadata, table.source)
    fields = pd.DataFrame({PLATE: pd.Series(dtype=str), WELL: pd.Series(dtype=str)})
    fields[SITE] = pd.Series(dtype=np.int64)
    wells = well_profiles_of(table)
    well_metadata = wells[[c for c in wells.columns if c in metadata.columns]]
    return PlateSession(source=Path(source), fields=fields, well_metadata=well_metadata)


def add_profile_table(session: PlateSession, table: ProfileTable, name: str | None = None) -> str:
    """Make ``table`` a feature set of ``session`` (firing its ``cells_changed``); returns
    the feature set's name.

    Raises
    ------
    ProfileTableError
        No plate or well column, or (with images) none of the table's plates is open.
    """
    taken = set(session.well_profiles) | set(session.feature_columns)
    name = name or feature_set_name(table.source, taken)
    if name in taken:
        raise ProfileTableError(f"{table.source}: the session already has a feature set {name!r}")
    wells = well_profiles_of(table)
    if len(session.fields):
        plates = set(session.fields[PLATE].astype(str))
        if not set(wells[PLATE]) & plates:
            raise ProfileTableError(
                f"{table.source}: its plates {sorted(set(wells[PLATE]))[:3]} are not the open "
                f"plate(s) {sorted(plates)[:3]}"
            )
    if table.level == "cell":
        cells = cells_of(table)
        columns = list(table.feature_names)
        existing = set(session.cells.columns) if session.cells is not None else set()
        if existing & set(columns):
            # CellProfiler features next to our classical ones (same names): the loaded
            # set's columns are prefixed by its name, in its cells and its well profiles
            renamed = {c: f"{name}:{c}" for c in columns}
            cells, wells = cells.rename(columns=renamed), wells.rename(columns=renamed)
            columns = [renamed[c] for c in columns]
        session.cells = (
            cells if session.cells is None else pd.concat([session.cells, cells], ignore_index=True)
        )
        session.feature_columns[name] = columns
        counts = cells.groupby([PLATE, WELL]).size()
        for (plate, well), n in counts.items():
            session.cell_counts.setdefault((plate, well), int(n))
    session.well_profiles[name] = wells
    session.events.cells_changed.emit()
    return name


def choose_annotations(
    session: PlateSession,
    target: str | None = None,
    moa: str | None = None,
    identifier: str | None = None,
) -> None:
    """Use these columns (None: found in each table) for targets, MoA and identifiers, and
    fire the session's ``cells_changed`` (the docks re-read them).

    Raises
    ------
    ProfileTableError
        If a chosen column is in none of the session's well profiles.
    """
    chosen = {"target": target, "moa": moa, "identifier": identifier}
    chosen = {key: column for key, column in chosen.items() if column}
    tables = list(session.well_profiles.values())
    for key, column in chosen.items():
        if tables and not any(column in table.columns for table in tables):
            raise ProfileTableError(f"no profile table has the {key} column {column!r}")
    session.extras[ANNOTATION_CHOICE] = chosen
    session.events.cells_changed.emit()  # the docks re-read the columns chosen


def annotations_of(session: PlateSession, table: pd.DataFrame) -> Annotations:
    """The annotation columns of ``table``: the user's choice where the table has it, else
    the ones found in it."""
    chosen = session.extras.get(ANNOTATION_CHOICE, {})
    return find_annotations(table, **{k: c for k, c in chosen.items() if c in table.columns})


def adopt_profile_table(state: ViewerState, table: ProfileTable, name: str | None = None) -> str:
    """Add ``table`` to a viewer's session (one without images if none is open) and tell
    the docks; returns the feature set's name (what *Load profiles...* does)."""
    if state.session is not None:
        return add_profile_table(state.session, table, name)  # fires cells_changed
    session = session_without_images(table, table.source)
    name = add_profile_table(session, table, name)
    state.session = session  # fires session_changed
    return name

"""What the Profile dock computes, as plain functions (no Qt, no napari).

The dock only chooses fields and shows results. Here: which fields a scope covers, the
per-field step (``segment_field`` then ``pipeline.measure_field``, the code the headless
pipeline runs, keeping the label images the viewer shows), the cancellable generator the
worker thread iterates, and the bookkeeping of the shared ``PlateSession``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNELS, LABEL, PLATE, SITE, WELL
from napari_phenoscope.errors import LabelsError, PhenoscopeError, ProfileTableError
from napari_phenoscope.io import iter_fields
from napari_phenoscope.profiling import pipeline
from napari_phenoscope.profiling.outputs import VIT_PREFIX
from napari_phenoscope.profiling.wells import normalisation_plan, well_profiles
from napari_phenoscope.segmentation.field import segment_field
from napari_phenoscope.segmentation.given import segmentation_from_labels

FEATURE_SETS: tuple[str, ...] = ("vit", "classical", "both")
SCOPES: tuple[str, ...] = ("field", "well", "plate")


@dataclass
class FieldProfile:
    """Segmentation and per-cell features of one field.

    Attributes
    ----------
    index
        Row of the field index.
    key
        (plate, well, site).
    nuclei, cells
        Label images (same ids: cell ``k`` holds nucleus ``k``).
    table
        One row per cell: plate, well, site, object number, ``label``, centroid, areas and
        the feature columns.
    feature_columns
        Feature columns of ``table`` per feature set (``"vit"``, ``"classical"``).
    """

    index: int
    key: tuple[str, str, int]
    nuclei: np.ndarray
    cells: np.ndarray
    table: pd.DataFrame
    feature_columns: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class FieldFailure:
    """A field that could not be profiled, with the one-line reason."""

    index: int
    key: tuple[str, str, int]
    message: str


def fields_in_scope(fields: pd.DataFrame, current: int, scope: str) -> list[int]:
    """Rows of the field index to profile: the current field, its well, or its plate."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
    if scope == "field":
        return [current]
    row = fields.iloc[current]
    mask = fields[PLATE] == row[PLATE]
    if scope == "well":
        mask &= fields[WELL] == row[WELL]
    return [int(i) for i in np.flatnonzero(mask.to_numpy())]


def profile_field(
    image: np.ndarray,
    key: tuple[str, str, int],
    index: int,
    feature_sets: Sequence[str] = ("vit",),
    encoder: Any = None,
    device: str = "cpu",
    batch_size: int = 64,
    pixel_size: float | None = None,
    normalization: Any = "field",
    segmentation: Any = None,
) -> FieldProfile:
    """Segment one field and measure its cells, keeping the label images for the viewer.

    Parameters
    ----------
    image
        (C, Y, X) field in ``CHANNELS`` order.
    key
        (plate, well, site) of the field, written into the table.
    index
        Row of the field index.
    feature_sets, encoder, device, batch_size, pixel_size, normalization
        As in ``pipeline.measure_field`` (the same code profiles plates headless).
    segmentation
        The cells to measure (``segmentation.segmentation_from_labels`` of a Labels layer);
        segmented here if None.

    Returns
    -------
    FieldProfile
    """
    if segmentation is None:
        segmentation = segment_field(image, channels=CHANNELS, pixel_size=pixel_size)
    table, columns = pipeline.measure_field(
        image,
        key,
        feature_sets,
        encoder,
        device,
        batch_size,
        segmentation=segmentation,
        pixel_size=pixel_size,
        normalization=normalization,
    )
    return FieldProfile(
        index=index,
        key=(str(key[0]), str(key[1]), int(key[2])),
        nuclei=segmentation.nuclei,
        cells=segmentation.cells,
        table=table,
        feature_columns=columns,
    )


def iter_profiles(
    fields: pd.DataFrame,
    indices: Sequence[int],
    feature_choice: str,
    device_choice: str = "auto",
    cancel: threading.Event | None = None,
    model_path: str | None = None,
    pixel_size: float | None = None,
) -> Iterator[FieldProfile | FieldFailure]:
    """Profile fields one by one, stopping between fields once ``cancel`` is set.

    A field that cannot be read or segmented yields a ``FieldFailure`` and the run goes on;
    a result finished after ``cancel`` was set is dropped, so nothing lands after a cancel.
    ``model_path`` names encoder weights (the bundled ones if None); ``pixel_size`` (um)
    scales segmentation and crops as in ``pipeline.profile_plates``.
    """
    from napari_phenoscope.models import resolve_device

    cancel = cancel or threading.Event()
    sets = pipeline.parse_feature_sets(feature_choice)
    device = str(resolve_device(device_choice))
    encoder = None
    scaling: dict[str, Any] = {}
    if "vit" in sets:
        from napari_phenoscope.models import load_encoder

        encoder = load_encoder(model_path, device=device)
        chosen_plates = set(fields.iloc[list(indices)][PLATE].astype(str))
        in_scope = fields[fields[PLATE].astype(str).isin(chosen_plates)]
        scaling = pipeline.encoder_normalisation(encoder, in_scope, missing="zeros")
    for plate_field in iter_fields(fields, indices, missing="zeros"):
        if cancel.is_set():
            return
        index, key = plate_field.position, plate_field.key
        try:
            result: FieldProfile | FieldFailure = profile_field(
                plate_field.read(),
                key,
                index,
                sets,
                encoder=encoder,
                device=device,
                pixel_size=pixel_size,
                normalization=scaling.get(key[0], "field"),
            )
        except PhenoscopeError as error:
            result = FieldFailure(index, key, str(error))
        if cancel.is_set():
            return
        yield result


def iter_layer_field(
    image: np.ndarray,
    cells: np.ndarray | None,
    nuclei: np.ndarray | None,
    key: tuple[str, str, int],
    index: int,
    feature_choice: str,
    device_choice: str = "auto",
    cancel: threading.Event | None = None,
    model_path: str | None = None,
    pixel_size: float | None = None,
    source: str = "Labels layer",
) -> Iterator[FieldProfile | FieldFailure]:
    """Profile one field given as arrays (layers), with exactly the cells of ``cells`` if given.

    The worker-side twin of ``iter_profiles`` for images from the viewer's layers and cells
    made elsewhere or edited by hand: ``segmentation_from_labels`` replaces the
    segmentation (``cells`` None: segmented as usual), then the same
    ``pipeline.measure_field`` runs. Crops are scaled per field (no plate to take limits
    from). Yields one ``FieldProfile``, or a ``FieldFailure`` with the one-line reason
    (labels not matching the image, for instance); nothing after ``cancel``.

    Parameters
    ----------
    image
        (5, Y, X) field in ``CHANNELS`` order.
    cells, nuclei
        Label images of the field (``nuclei`` optional), as ``segmentation_from_labels``
        takes them; ``cells`` None segments the field.
    key, index
        (plate, well, site) and field-index row the results are recorded under.
    feature_choice, device_choice, cancel, model_path, pixel_size
        As in ``iter_profiles``.
    source
        What the labels are called in messages (the layer's name).
    """
    from napari_phenoscope.models import resolve_device

    cancel = cancel or threading.Event()
    sets = pipeline.parse_feature_sets(feature_choice)
    device = str(resolve_device(device_choice))
    try:
        given = None
        if cells is not None:
            if np.shape(cells) != image.shape[1:]:
                raise LabelsError(
                    f"{source}: labels of shape {np.shape(cells)}, but the images are "
                    f"{image.shape[1:]}"
                )
            given = segmentation_from_labels(cells, nuclei, source=source)
        encoder = None
        if "vit" in sets:
            from napari_phenoscope.models import load_encoder

            encoder = load_encoder(model_path, device=device)
        if cancel.is_set():
            return
        result: FieldProfile | FieldFailure = profile_field(
            image,
            key,
            index,
            sets,
            encoder=encoder,
            device=device,
            pixel_size=pixel_size,
            segmentation=given,
        )
    except PhenoscopeError as error:
        result = FieldFailure(index, key, str(error))
    if not cancel.is_set():
        yield result


def record_profile(session: Any, result: FieldProfile) -> None:
    """Store a field's labels and cells in a ``PlateSession`` (replacing an earlier run);
    fires the session's ``cells_changed``."""
    session.labels[result.key] = (result.nuclei, result.cells)
    plate, well, site = result.key
    table = result.table
    if session.well_metadata is not None and len(table):
        extra = [c for c in session.well_metadata.columns if c not in table.columns]
        table = table.merge(
            session.well_metadata[[PLATE, WELL, *extra]], on=[PLATE, WELL], how="left"
        )
    cells = session.cells
    if cells is not None:
        same_field = (cells[PLATE] == plate) & (cells[WELL] == well) & (cells[SITE] == site)
        cells = cells[~same_field]
        table = pd.concat([cells, table], ignore_index=True) if len(cells) else table
    session.cells = table.reset_index(drop=True)
    for name, columns in result.feature_columns.items():
        session.feature_columns[name] = columns
    in_well = (session.cells[PLATE] == plate) & (session.cells[WELL] == well)
    session.cell_counts[(plate, well)] = int(in_well.sum())
    session.events.cells_changed.emit()


def labels_features(table: pd.DataFrame, feature_columns: Sequence[str] = ()) -> pd.DataFrame:
    """A per-cell table as napari Labels ``features``: an ``index`` column holds the label id.

    napari maps a label value to its row through the ``index`` column, so rows need not be
    ordered by label. Feature columns are left out (napari lists every column in the status
    bar under the cursor; hundreds of embedding dimensions would drown the metadata).
    """
    dropped = set(feature_columns)
    keep = [c for c in table.columns if c not in dropped and not c.startswith(VIT_PREFIX)]
    features = table[keep].copy()
    features.insert(0, "index", features[LABEL].astype(int).to_numpy())
    return features.reset_index(drop=True)


def aggregate_wells(
    cells: pd.DataFrame, feature_columns: dict[str, list[str]]
) -> tuple[dict[str, pd.DataFrame], str]:
    """Well profiles per feature set from the session's cells (``profiling.wells.well_profiles``)
    and the note on how they were normalised (``""`` when to the negative controls).

    The note is returned, not warned: this runs in a worker thread, where warnings can not
    be caught safely (``warnings.catch_warnings`` is process-wide).

    Raises
    ------
    PhenoscopeError
        If the cells cannot be aggregated and normalised, with the message the dock shows.
    """
    _, note = normalisation_plan(cells)
    profiles = {
        name: well_profiles(cells, columns, warn=False) for name, columns in feature_columns.items()
    }
    return profiles, note


def adopt_pipeline_output(
    session: Any,
    cells: pd.DataFrame,
    feature_columns: dict[str, list[str]],
    well_profiles: dict[str, pd.DataFrame],
) -> int:
    """Put ``read_pipeline_output`` tables, for the session's plates, in the session (and
    fire its ``cells_changed``).

    Returns the number of cells adopted.

    Raises
    ------
    ProfileTableError
        If no cell belongs to the session's plates.
    """
    plates = set(session.plates())
    cells = cells[cells[PLATE].astype(str).isin(plates)].reset_index(drop=True)
    if cells.empty:
        raise ProfileTableError(f"these profiles are of other plates than {sorted(plates)}")
    session.cells = cells
    session.feature_columns = dict(feature_columns)
    session.well_profiles = {
        name: table[table[PLATE].astype(str).isin(plates)].reset_index(drop=True)
        for name, table in well_profiles.items()
    }
    counts = cells.groupby([PLATE, WELL]).size()
    session.cell_counts = {(str(p), str(w)): int(n) for (p, w), n in counts.items()}
    session.events.cells_changed.emit()
    return len(cells)

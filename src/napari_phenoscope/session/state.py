"""The state the dock widgets share for one viewer: which plate, which field, what is known.

Plain Python with psygnal signals (no Qt, no napari import), so widgets stay thin and the
navigation logic is testable without a display. ``ViewerState`` (``state_of(viewer)``) is
the evented session of a viewer: it holds the open ``PlateSession`` (the plate's data) and
the model settings every dock uses (weights path, device). The model owns its events, as
napari's components do: every change others must hear goes through a setter or a method
that fires its event (``ViewerState.session``, ``PlateSession.current``, the session's
cell-table functions, ``ViewerState.select``), so no caller fires one by hand; docks only
subscribe, and scripts (the tour) set the same properties without touching a widget.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from psygnal import Signal

from napari_phenoscope.constants import PLATE, SITE, WELL
from napari_phenoscope.errors import PlateFormatError

#: What a session opened from profile tables alone answers when asked for a field.
#: ``extras`` key of a plate's judged field QC (``session.quality.attach_qc``).
QC_FIELDS_KEY = "qc_fields"
#: The ``wells_of`` column counting each well's fields that failed QC.
QC_FAILED_FIELDS = "QC: failed fields"
NO_IMAGES = "no images in this session: open the plate first (phenoscope view --images PLATE_DIR)"


class PlateSessionEvents:
    """What a ``PlateSession`` fires; the viewer's ``ViewerState`` relays them while the
    session is its open one."""

    field_changed = Signal(int)
    """``current`` was set to another row (the new row)."""
    cells_changed = Signal()
    """Segmentation, cells or profiles were added or replaced (``record_profile``,
    ``adopt_pipeline_output``, ``add_profile_table``, ``choose_annotations``,
    ``add_well_profiles``)."""


@dataclass
class PlateSession:
    """A plate (or several) opened in a viewer.

    Attributes
    ----------
    source
        The path the plate was opened from.
    fields
        Field index (``index_plate``): one row per plate / well / site.
    well_metadata
        One row per plate and well (``read_well_metadata``), or None without plate maps.
    current
        Row of ``fields`` on show.
    cell_counts
        Cells found per (plate, well), filled as fields are segmented.
    labels
        (nuclei, cells) label images per segmented field, keyed by (plate, well, site).
    cells
        Single-cell table of everything profiled so far: Metadata_Plate / Well / Site /
        ObjectNumber, ``label`` (the id in that field's label images), centroid, well
        metadata and feature columns; None before anything is profiled.
    feature_columns
        Feature columns of ``cells`` per feature set (``"vit"``, ``"classical"``).
    well_profiles
        Well-level profiles per feature set (pycytominer layout), when computed.
    selected
        Selected cells as (plate, well, site, label) keys, shared by map, viewer and tables
        (set them with ``ViewerState.select``, which tells every dock).
    events
        ``PlateSessionEvents``: setting ``current`` to another row fires ``field_changed``;
        the functions that change the cell tables fire ``cells_changed`` once each.
    """

    source: Path
    fields: pd.DataFrame
    well_metadata: pd.DataFrame | None = None
    current: int = 0
    cell_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    labels: dict[tuple[str, str, int], tuple[Any, Any]] = field(default_factory=dict)
    cells: pd.DataFrame | None = None
    feature_columns: dict[str, list[str]] = field(default_factory=dict)
    well_profiles: dict[str, pd.DataFrame] = field(default_factory=dict)
    selected: list[tuple[str, str, int, int]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    events: PlateSessionEvents = field(
        default_factory=PlateSessionEvents, init=False, repr=False, compare=False
    )

    def __setattr__(self, name: str, value: Any) -> None:
        # ``current`` is an evented field (napari's EventedModel fields work so): a new row
        # tells every listener; ``__init__`` sets it before ``events`` exists, silently
        changed = name == "current" and "events" in self.__dict__ and value != self.current
        super().__setattr__(name, value)
        if changed:
            self.events.field_changed.emit(int(value))

    def add_well_profiles(self, profiles: dict[str, pd.DataFrame]) -> None:
        """Add or replace well profiles per feature set, and fire ``cells_changed``."""
        self.well_profiles.update(profiles)
        self.events.cells_changed.emit()

    @property
    def has_images(self) -> bool:
        """False for a session opened from profile tables alone (no field to show)."""
        return len(self.fields) > 0

    def field_row(self, index: int | None = None) -> pd.Series:
        """The field-index row on show (or at ``index``).

        Raises
        ------
        PlateFormatError
            In a session without images.
        """
        if not self.has_images:
            raise PlateFormatError(NO_IMAGES)
        return self.fields.iloc[self.current if index is None else index]

    def plates(self) -> list[str]:
        """Plate barcodes in the order they appear (from the profiles without images)."""
        if not self.has_images and self.well_metadata is not None:
            return list(dict.fromkeys(self.well_metadata[PLATE].astype(str)))
        return list(dict.fromkeys(self.fields[PLATE]))

    def sites(self, plate: str, well: str) -> list[int]:
        """Sites imaged in a well."""
        rows = self.fields[(self.fields[PLATE] == plate) & (self.fields[WELL] == well)]
        return sorted(int(site) for site in rows[SITE])

    def find(self, plate: str, well: str, site: int | None = None) -> int:
        """Row of ``fields`` for a plate, well and site (the first site if None).

        Raises
        ------
        PlateFormatError
            If that field was not imaged.
        """
        mask = (self.fields[PLATE] == plate) & (self.fields[WELL] == well)
        if site is not None:
            mask &= self.fields[SITE] == int(site)
        rows = self.fields.index[mask]
        if not self.has_images:
            raise PlateFormatError(NO_IMAGES)
        if len(rows) == 0:
            where = f"{plate} {well}" + ("" if site is None else f" site {site}")
            raise PlateFormatError(f"no images for {where}")
        return int(self.fields.index.get_loc(rows[0]))

    def wells_of(self, plate: str) -> pd.DataFrame:
        """One row per imaged well of a plate (per profiled well in a session without
        images), with its metadata and cell count if known."""
        known = self.fields if self.has_images or self.well_metadata is None else self.well_metadata
        wells = (
            known.loc[known[PLATE].astype(str) == plate, [PLATE, WELL]]
            .drop_duplicates()
            .reset_index(drop=True)
        )
        if self.well_metadata is not None:
            extra = [c for c in self.well_metadata.columns if c not in (PLATE, WELL)]
            wells = wells.merge(
                self.well_metadata[[PLATE, WELL, *extra]], on=[PLATE, WELL], how="left"
            )
        wells["cell count"] = [
            self.cell_counts.get((plate, well), float("nan")) for well in wells[WELL]
        ]
        qc = self.extras.get(QC_FIELDS_KEY)
        if qc is not None:
            failed = (~qc[qc[PLATE] == plate].set_index(WELL)["QC_pass"]).groupby(level=0).sum()
            wells[QC_FAILED_FIELDS] = wells[WELL].map(failed).astype(float)
        return wells

    def well_info(self, plate: str, well: str) -> dict[str, object]:
        """The metadata of one well (plate and well only if there is no plate map)."""
        info: dict[str, object] = {PLATE: plate, WELL: well}
        if self.well_metadata is not None:
            rows = self.well_metadata[
                (self.well_metadata[PLATE] == plate) & (self.well_metadata[WELL] == well)
            ]
            if len(rows):
                info.update(rows.iloc[0].to_dict())
        if (plate, well) in self.cell_counts:
            info["cell count"] = self.cell_counts[(plate, well)]
        return info


#: The plate name of cells profiled from layers that belong to no plate.
LAYERS_PLATE = "layers"


def layers_session(name: str) -> PlateSession:
    """A session without a plate, for cells profiled from another reader's layers.

    It has no field index (``has_images`` is False: nothing to navigate); its cells are
    keyed (``LAYERS_PLATE``, the DNA layer's name, 1).
    """
    return PlateSession(source=Path(name), fields=pd.DataFrame(columns=[PLATE, WELL, SITE]))


class SessionEvents:
    """Signals the docks listen to (fired by ``ViewerState``, never by a dock)."""

    field_changed = Signal(int)
    """Another field of the open session is on show (its row in ``session.fields``)."""
    session_changed = Signal(object)
    """A plate was opened (the new ``PlateSession``) or closed (None)."""
    cells_changed = Signal()
    """Segmentation, cells or profiles of the open session were updated."""
    selection_changed = Signal(object)
    """Cells were selected (a list of (plate, well, site, label) keys) by any dock or click."""
    compare_requested = Signal(object)
    """A dock asks the Compare dock for (query mode, query, match), e.g. a Similar row."""
    model_changed = Signal()
    """The encoder weights or the device changed (``weights_path``, ``device``)."""


#: Device choices of the docks (``models.resolve_device`` interprets them).
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


class ViewerState:
    """Per-viewer evented session: the open plate, the model settings, and their events."""

    def __init__(self) -> None:
        self.events = SessionEvents()
        self._session: PlateSession | None = None
        self._weights_path: Path | None = None
        self._device = "auto"

    @property
    def session(self) -> PlateSession | None:
        """The open plate; setting another one (or None to close it) fires
        ``session_changed``, and from then on its ``field_changed`` and ``cells_changed``
        are the viewer's."""
        return self._session

    @session.setter
    def session(self, session: PlateSession | None) -> None:
        if session is self._session:
            return
        if self._session is not None:
            self._session.events.field_changed.disconnect(self._relay_field_changed)
            self._session.events.cells_changed.disconnect(self._relay_cells_changed)
        self._session = session
        if session is not None:
            session.events.field_changed.connect(self._relay_field_changed)
            session.events.cells_changed.connect(self._relay_cells_changed)
        self.events.session_changed.emit(session)

    def _relay_field_changed(self, index: int) -> None:
        self.events.field_changed.emit(index)

    def _relay_cells_changed(self) -> None:
        self.events.cells_changed.emit()

    @property
    def weights_path(self) -> Path | None:
        """MAE / encoder weights (safetensors) every dock uses; None for the bundled ones."""
        return self._weights_path

    @weights_path.setter
    def weights_path(self, path: str | Path | None) -> None:
        new = Path(path) if path not in (None, "") else None
        if new != self._weights_path:
            self._weights_path = new
            self.events.model_changed.emit()

    @property
    def device(self) -> str:
        """Torch device choice of the docks: ``"auto"``, ``"cpu"``, ``"cuda"`` (``"cuda:1"``)."""
        return self._device

    @device.setter
    def device(self, device: str) -> None:
        if device not in DEVICES and not device.startswith("cuda:"):
            raise ValueError(f"device must be one of {DEVICES}, not {device!r}")
        if device != self._device:
            self._device = device
            self.events.model_changed.emit()

    def select(self, keys: list[tuple[str, str, int, int]]) -> None:
        """Select cells by (plate, well, site, label) keys and tell every dock.

        Fires ``selection_changed`` on every call, the same keys included: selecting a
        cell again asks the docks to show it again (a click re-centres the viewer).
        """
        if self.session is not None:
            self.session.selected = list(keys)
        self.events.selection_changed.emit(list(keys))


_STATES: weakref.WeakKeyDictionary[Any, ViewerState] = weakref.WeakKeyDictionary()


def state_of(viewer: Any) -> ViewerState:
    """The shared state of a viewer (created on first use, freed with the viewer)."""
    if viewer not in _STATES:
        _STATES[viewer] = ViewerState()
    return _STATES[viewer]

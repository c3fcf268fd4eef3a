"""``phenoscope view``: napari with every dock on profile tables, with or without images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from napari_phenoscope._widgets.docks import add_all_docks
from napari_phenoscope.app.startup import freeze_startup_objects
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.session.state import state_of


def open_profiles_viewer(
    profiles: Sequence[str | Path],
    images: str | Path | None = None,
    names: Sequence[str] = (),
    channel_map: str | None = None,
    viewer: Any = None,
    annotation_columns: dict[str, str | None] | None = None,
    lay_out: bool = True,
) -> Any:
    """Open (or fill) a napari viewer: every dock, the plate if given, the tables loaded.

    Each table becomes a feature set (named ``names[i]`` or after its file); the tables
    are read before the window opens, so they are all there when this returns. The docks
    follow what was loaded: well-level tables alone open the Profile map on wells (laid
    out at once), Similar on a perturbation query, both in the table's own annotation
    columns (found, or ``annotation_columns``: ``target``, ``moa``, ``identifier``).
    ``lay_out=False`` leaves the map of wells to the user's Compute map.
    Returns the ``PhenoscopeDocks``; ``napari.run()`` is the caller's.

    Raises
    ------
    PhenoscopeError
        A table or the plate cannot be read, or a table's wells are not the plate's.
    """
    import napari

    from napari_phenoscope._widgets._viewer import open_plate
    from napari_phenoscope.io.profile_tables import load_profile_table
    from napari_phenoscope.session.tables import adopt_profile_table, choose_annotations

    tables = [load_profile_table(path) for path in profiles]  # a bad table: no window
    chosen = {key: column for key, column in (annotation_columns or {}).items() if column}
    for key, column in chosen.items():
        if not any(column in table.metadata.columns for table in tables):
            raise ProfileTableError(f"no profile table has the {key} column {column!r}")
    viewer = viewer or napari.Viewer(title="Phenoscope profiles")
    docks = add_all_docks(viewer)
    freeze_startup_objects()  # `phenoscope view` is Phenoscope's own process: see there
    if images is not None:
        open_plate(viewer, images, channel_map)
    state = state_of(viewer)
    for i, table in enumerate(tables):
        adopt_profile_table(state, table, names[i] if i < len(names) else None)
    if chosen:
        choose_annotations(state.session, **chosen)  # fires cells_changed: docks re-read
    session = state.session
    docks.profile.status.setText("Feature sets: " + ", ".join(session.well_profiles) + ".")
    if lay_out and session.cells is None and session.well_profiles:
        docks.profile_map.compute(level="wells", feature_set=next(iter(session.well_profiles)))
    docks.show("Profile map")
    return docks


def view_profiles(
    profiles: Sequence[str | Path],
    images: str | Path | None = None,
    names: Sequence[str] = (),
    channel_map: str | None = None,
    annotation_columns: dict[str, str | None] | None = None,
) -> None:
    """:func:`open_profiles_viewer`, then napari's event loop (blocks until closed)."""
    import napari

    open_profiles_viewer(
        profiles, images, names, channel_map, annotation_columns=annotation_columns
    )
    napari.run()

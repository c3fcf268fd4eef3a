"""What the Similar perturbations dock computes: a query, its ranking and its gallery.

``rank_request`` turns the dock's pickers into a ``Query`` (``similarity.rank``),
ranks every perturbation against it and picks the cells of the gallery; it runs in the
dock's worker for a selected cell, so nothing here touches Qt. ``perturbation_choices``,
``perturbation_label`` and ``query_name`` are the words the dock shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from napari_phenoscope.constants import MODALITY, RANK
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.annotations import Annotations
from napari_phenoscope.io.join_keys import PointIndex
from napari_phenoscope.io.profiles import feature_columns
from napari_phenoscope.session.state import PlateSession
from napari_phenoscope.session.tables import annotations_of
from napari_phenoscope.similarity.rank import (
    BEST_PLATE,
    BEST_WELL,
    IS_TARGET,
    PERTURBATION,
    SAME_MOA,
    SAME_TARGET,
    Query,
    cell_normaliser,
    cell_query,
    perturbation_names,
    perturbation_query,
    rank_perturbations,
    reference_profiles,
    well_query,
)

#: The query pickers: the selected cell, a well, a perturbation (by name and modality).
QUERY_MODES = ("selected cell", "well", "perturbation")
#: Matches whose cells the gallery shows, after the query's.
GALLERY_MATCHES = 4
NO_CELL = "No cell selected: click a cell in the viewer or on the Profile map."
#: Related perturbations named in the summary before "and N more".
LISTED = 6


def perturbation_choices(profiles: pd.DataFrame) -> list[str]:
    """The perturbation combo's items: ``"name · modality"``, or the name alone when the
    table has no modality (never a name with a dangling dot)."""
    names = perturbation_names(profiles)
    if MODALITY in profiles:
        modality = profiles[MODALITY].fillna("").astype(str)
        names = names.where(modality == "", names + " · " + modality)
    return sorted(set(names))


def perturbation_label(row: pd.Series) -> str:
    """A ranking row as a biologist names it: ``PLK1 (crispr)``, or the name alone."""
    modality = str(row.get(MODALITY, "") or "")
    return f"{row[PERTURBATION]} ({modality})" if modality else str(row[PERTURBATION])


def query_name(description: str) -> str:
    """The query's name without its well count: ``BI-2536 (4 wells)`` -> ``BI-2536``."""
    return description.split(" (", 1)[0] if description.endswith("wells)") else description


def ranking_summary_html(
    query: Query, ranking: pd.DataFrame, target_colour: str, related_colour: str
) -> str:
    """The query and where its target genes landed, e.g. PLK1 #1, BRD4 #25 of 30; then what
    shares its target or MoA (on ``related_colour``, paler than ``target_colour``), so that a
    target is called one only when the perturbation is that gene. Rich text for a label."""
    text = f"<b>{query.description}</b>"
    if query.targets:
        text += f"<br>targets: {', '.join(query.targets)}"
    if query.moas:
        text += f"<br>MoA: {', '.join(query.moas)}"
    for flag, words, colour in (
        (IS_TARGET, "target genes rank", target_colour),
        (SAME_TARGET, "same target", related_colour),
        (SAME_MOA, "same MoA", related_colour),
    ):
        hits = ranking[ranking[flag]] if flag in ranking else ranking.iloc[:0]
        if not len(hits):
            continue
        places = ", ".join(
            f"<span style='background:{colour};color:black'>"
            f"{perturbation_label(row)} #{row[RANK]}</span>"
            for _, row in hits.head(LISTED).iterrows()
        )
        more = f" and {len(hits) - LISTED} more" if len(hits) > LISTED else ""
        text += f"<br>{words}: {places}{more} of {len(ranking)}"
    return text


def rank_request(
    session: PlateSession,
    mode: str,
    well_text: str,
    perturbation_text: str,
    feature_set: str,
    selected: list,
    cells: pd.DataFrame | None,
    cache: dict,
) -> tuple[Query, pd.DataFrame, list[tuple[str, np.ndarray, bool]]]:
    """The query, its ranking and the gallery entries, as the dock asks for them.

    Parameters
    ----------
    session
        The viewer's session: its well profiles, and its images for the gallery.
    mode
        One of ``QUERY_MODES``: the selected cell, a well or a perturbation.
    well_text, perturbation_text
        The well (``"PLATE WELL"``) and perturbation (``"name · modality"``) pickers' text.
    feature_set
        Which well profiles to rank (a key of ``session.well_profiles``).
    selected
        The selected cells' (plate, well, site, label) keys (a cell query uses the first).
    cells
        The single-cell table (None without one: a cell query then says so).
    cache
        What does not change between clicks (feature columns, annotations, the reference
        profiles, the cell index, per-plate normalizers), filled on first use.

    Returns
    -------
    tuple
        The ``Query``, its ranking (``rank_perturbations``) and the gallery entries:
        (caption, row indices into ``cells``, whether several cells are shown).

    Raises
    ------
    ProfileTableError
        When the query cannot be made (no cell selected, cell not profiled, ...).
    """
    profiles = session.well_profiles[feature_set]
    columns = _cached(
        cache, "columns", feature_set, lambda: feature_columns(profiles, numeric_only=True)
    )
    annotations = _cached(
        cache, "annotations", feature_set, lambda: annotations_of(session, profiles)
    )
    query = _make_query(
        mode,
        well_text,
        perturbation_text,
        feature_set,
        selected,
        cells,
        profiles,
        columns,
        cache,
        annotations,
    )
    if query.exclude_wells:  # a well or perturbation query: leave its wells out
        reference = reference_profiles(profiles, columns, query.exclude_wells, annotations)
    else:
        reference = _cached(
            cache,
            "reference",
            feature_set,
            lambda: reference_profiles(profiles, columns, (), annotations),
        )
    ranking = rank_perturbations(query, reference)
    entries = _gallery_entries(session, cells, mode, selected, query, ranking, cache)
    return query, ranking, entries


def _make_query(
    mode: str,
    well_text: str,
    perturbation_text: str,
    feature_set: str,
    selected: list,
    cells: pd.DataFrame | None,
    profiles: pd.DataFrame,
    columns: list[str],
    cache: dict,
    annotations: Annotations,
) -> Query:
    if mode == "well":
        plate, _, well = well_text.partition(" ")
        return well_query(profiles, plate, well, columns, annotations)
    if mode == "perturbation":
        name, _, modality = perturbation_text.partition(" · ")
        return perturbation_query(profiles, name, columns, modality or None, annotations)
    if not selected:
        raise ProfileTableError(NO_CELL)
    if cells is None:
        raise ProfileTableError("No single-cell profiles yet: run the Profile dock first.")
    missing = [c for c in columns if c not in cells.columns]
    if missing:
        raise ProfileTableError(f"single-cell table has no feature column {missing[0]}")
    key = tuple(selected[0])
    index = _cached(cache, "cells", None, lambda: PointIndex.from_table(cells, "cells"))
    found = index.indices([key])
    if not len(found):
        raise ProfileTableError(f"cell {key[3]} of {key[0]} {key[1]} site {key[2]} is not profiled")
    cell = cells.iloc[int(found[0])]
    negcon = _cached(
        cache, "negcon", (feature_set, key[0]), lambda: cell_normaliser(cells, columns, key[0])
    )
    return cell_query(cell, columns, negcon, annotations)


def _gallery_entries(
    session: PlateSession,
    cells: pd.DataFrame | None,
    mode: str,
    selected: list,
    query: Query,
    ranking: pd.DataFrame,
    cache: dict,
) -> list[tuple[str, np.ndarray, bool]]:
    if cells is None or not session.has_images:
        return []  # a session of profile tables alone has no pixels to cut
    index = _cached(cache, "cells", None, lambda: PointIndex.from_table(cells, "cells"))
    entries: list[tuple[str, np.ndarray, bool]] = []
    if mode == QUERY_MODES[0] and selected:
        entries.append(("query", index.indices(selected), False))
    elif query.exclude_wells:
        entries.append(("query", index.well_indices(query.exclude_wells[:1]), True))
    others = ranking[~ranking["is query"]].head(GALLERY_MATCHES)
    for _, match in others.iterrows():
        wells = [(str(match[BEST_PLATE]), str(match[BEST_WELL]))]
        caption = f"#{match[RANK]} {match[PERTURBATION]}"
        entries.append((caption, index.well_indices(wells), True))
    return entries


def _cached(cache: dict, what: str, detail: Any, compute: Callable[[], Any]) -> Any:
    """Per-session memo of what does not change between clicks (replaced on new cells)."""
    key = (what, detail)
    if key not in cache:
        cache[key] = compute()
    return cache[key]

"""What the Compare dock computes: a comparison asked for by the dock's pickers.

``query_maker`` and ``versus_spec`` turn the pickers' text into what
``similarity.comparison.compare`` takes; ``run_comparison`` runs it (in the dock's worker:
it reads fields and embeds crops). No Qt here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pandas as pd

from napari_phenoscope.constants import PLATE
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.session.state import PlateSession
from napari_phenoscope.similarity.comparison import Comparison, QueryMaker, compare
from napari_phenoscope.similarity.rank import (
    Query,
    cell_normaliser,
    cell_query,
    find_cell,
    well_query,
)

#: The query picker's modes.
QUERY_MODES = ("perturbation", "well", "selected cell")
#: The contrast picker's first and last entries.
AUTOMATIC, NO_CONTRAST = "automatic (the query's other target)", "none"


@lru_cache(maxsize=2)
def _encoder(path: str | None) -> Any:
    """The ViT the profiles were made with (the bundled one), loaded once."""
    from napari_phenoscope.models import load_encoder  # torch: only when the ViT is asked for

    return load_encoder(path, device="cpu")


def query_maker(session: PlateSession, mode: str, value: str) -> QueryMaker | str:
    """What ``compare`` takes as the query: a perturbation name, or a maker of a well or cell.

    ``value`` is ``"name · modality"`` or ``"modality:name"`` for a perturbation and
    ``"PLATE WELL"`` for a well; a cell query uses the session's first selected cell.
    """
    if mode == "perturbation":
        return value
    if mode == "well":
        plate, _, well = value.partition(" ")
        return lambda profiles, columns: well_query(profiles, plate, well, columns)
    if not session.selected:
        raise ProfileTableError("No cell selected: click a cell in the viewer first.")
    if session.cells is None:
        raise ProfileTableError("No single-cell profiles yet: run the Profile dock first.")
    cell = find_cell(session.cells, tuple(session.selected[0]))

    def make(profiles: pd.DataFrame, columns: list[str]) -> Query:
        normalizer = cell_normaliser(session.cells, columns, str(cell[PLATE]))
        return cell_query(cell, columns, normalizer)

    return make


def versus_spec(text: str) -> str | None:
    """The picker's text as ``compare``'s ``versus``: None (automatic), "" (none) or a name."""
    text = text.strip()
    if text in ("", AUTOMATIC):
        return None
    return "" if text == NO_CONTRAST else text


def run_comparison(
    session: PlateSession,
    query: Any,
    match: str,
    versus: str | None,
    with_vit: bool,
    weights: str | None,
) -> Comparison:
    """The whole comparison of a query with a match (the dock's worker runs it).

    Parameters
    ----------
    session
        Its well profiles, single cells and fields (read for the cells' crops).
    query
        What ``query_maker`` made: a perturbation's name, or a maker of a well or cell query.
    match, versus
        The match and the contrast, as ``similarity.comparison.compare`` reads them
        (``versus_spec``: None for automatic, "" for none).
    with_vit
        Whether to run the ViT channel occlusion (loads the encoder, once per weights).
    weights
        The encoder's weights (None: the bundled ones).
    """
    return compare(
        session.well_profiles,
        query,
        match,
        cells=session.cells,
        fields=session.fields,
        encoder=_encoder(weights) if with_vit else None,
        versus=versus,
    )

"""What the Profile map dock computes, headless: which rows, laid out where, coloured by what."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_rank import FEATURES, synthetic_cells, synthetic_well_profiles

from napari_phenoscope.constants import LABEL, MODALITY, PLATE, SITE, WELL
from napari_phenoscope.errors import PhenoscopeError
from napari_phenoscope.profile_map.layout import UmapParams, subsample
from napari_phenoscope.qc import QC_PASS, QC_REASON
from napari_phenoscope.session.map_layout import (
    NO_CELLS,
    NO_WELLS,
    SAMPLE_ROWS,
    checked_sample,
    colour_columns,
    embedding_cache,
    layout_and_index,
    map_table,
)
from napari_phenoscope.session.state import PlateSession


@pytest.fixture
def session() -> PlateSession:
    cells = synthetic_cells(cells_per_well=4)
    session = PlateSession(source=Path("."), fields=pd.DataFrame({PLATE: [], WELL: [], SITE: []}))
    session.cells = cells
    session.feature_columns["vit"] = list(FEATURES)
    session.well_profiles["vit"] = synthetic_well_profiles(cells)
    return session


def test_a_cell_map_takes_a_seeded_sample_of_complete_cells(session):
    session.cells.loc[3, FEATURES[0]] = np.nan  # an incomplete cell is never mapped
    table, columns = map_table(session, "cells", "vit", max_rows=40)
    assert columns == list(FEATURES) and len(table) == 40
    complete = session.cells.drop(index=3)
    expected = complete.iloc[subsample(len(complete), 40)]
    assert table[LABEL].tolist() == expected[LABEL].tolist()
    assert table.index.tolist() == list(range(40))
    everything, _ = map_table(session, "cells", "vit", max_rows=10**6)
    assert len(everything) == len(session.cells) - 1


def test_flagged_cells_are_left_out_only_when_asked(session):
    flagged = np.arange(len(session.cells)) % 4 == 0
    session.cells[QC_PASS] = ~flagged
    hidden, _ = map_table(session, "cells", "vit", 10**6, hide_flagged=True)
    shown, _ = map_table(session, "cells", "vit", 10**6, hide_flagged=False)
    assert len(hidden) == (~flagged).sum() and hidden[QC_PASS].all()
    assert len(shown) == len(flagged)


def test_a_well_map_is_the_well_profiles(session):
    table, columns = map_table(session, "wells", "vit", max_rows=5)  # wells are never sampled
    assert len(table) == len(session.well_profiles["vit"])
    assert set(FEATURES) <= set(columns)


def test_nothing_to_map_says_what_to_do(session):
    with pytest.raises(PhenoscopeError, match="no feature column"):
        session.feature_columns["vit"] = [*FEATURES, "Cells_missing"]
        map_table(session, "cells", "vit", 100)
    with pytest.raises(PhenoscopeError, match=re.escape(NO_WELLS)):
        map_table(session, "wells", "classical", 100)
    session.cells = None
    with pytest.raises(PhenoscopeError, match=re.escape(NO_CELLS)):
        map_table(session, "cells", "vit", 100)


def test_a_bad_table_fails_on_the_sample_before_any_layout(session):
    sample = checked_sample(session, "cells", "vit")
    assert len(sample) == SAMPLE_ROWS
    session.cells[FEATURES[1]] = "text"
    with pytest.raises(PhenoscopeError, match="non-numeric"):
        checked_sample(session, "cells", "vit")


def test_the_layout_is_cached_per_session_and_indexed_for_clicks(session):
    calls = []

    def first_two_features(features, params, progress=None, cancel=None):
        calls.append(len(features))
        return features[:, :2].copy()

    cache = embedding_cache(session)
    assert embedding_cache(session) is cache
    args = (session, "cells", "vit", 30, cache, UmapParams(), None, threading.Event())
    table, embedding, index, locator = layout_and_index(*args, compute=first_two_features)
    np.testing.assert_allclose(embedding, table[FEATURES[:2]].to_numpy(np.float32))
    assert index.keys_at([0]) == [
        (table[PLATE][0], table[WELL][0], int(table[SITE][0]), int(table[LABEL][0]))
    ]
    again = layout_and_index(*args, compute=first_two_features)[1]
    assert calls == [30] and again is embedding  # the second map came from the cache
    assert locator is not None


def test_colours_offer_metadata_then_qc_then_features_and_pick_the_telling_one(session):
    table = session.cells.assign(**{QC_REASON: ""})
    columns, best = colour_columns(table, list(FEATURES))
    metadata = [c for c in table.columns if c.startswith("Metadata_")]
    assert columns == [*metadata, QC_REASON, *FEATURES]
    assert best == MODALITY  # no MoA column: the modality tells the most
    plain = table[[PLATE, WELL, *FEATURES]]
    assert colour_columns(plain, list(FEATURES)) == ([PLATE, WELL, *FEATURES], WELL)

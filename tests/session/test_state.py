"""The viewer's evented session, headless: setters fire events, scripts need no widget."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import napari_phenoscope
from _real_tables import real_single_cells
from napari_phenoscope.constants import PLATE, SITE, WELL
from napari_phenoscope.io.profile_tables import profile_table
from napari_phenoscope.session.compute import FieldProfile, adopt_pipeline_output, record_profile
from napari_phenoscope.session.state import PlateSession, ViewerState, state_of
from napari_phenoscope.session.tables import (
    add_profile_table,
    adopt_profile_table,
    choose_annotations,
)


def recorder(signal) -> list:
    seen: list = []
    signal.connect(lambda *args: seen.append(args))
    return seen


def a_session() -> PlateSession:
    fields = pd.DataFrame({PLATE: ["P1"] * 3, WELL: ["A01", "A02", "A03"], SITE: [1, 1, 1]})
    return PlateSession(source=Path("."), fields=fields)


def test_model_settings_fire_model_changed_once_per_change():
    state = ViewerState()
    seen = recorder(state.events.model_changed)
    assert state.weights_path is None and state.device == "auto"
    state.weights_path = "/models/mae.safetensors"
    state.weights_path = Path("/models/mae.safetensors")  # the same path: no event
    state.device = "cpu"
    state.device = "cpu"
    state.weights_path = ""  # an empty line edit means the bundled weights
    assert len(seen) == 3
    assert state.weights_path is None and state.device == "cpu"


def test_an_unknown_device_is_refused_and_changes_nothing():
    state = ViewerState()
    seen = recorder(state.events.model_changed)
    with pytest.raises(ValueError, match="gpu"):
        state.device = "gpu"
    state.device = "cuda:1"
    assert state.device == "cuda:1" and len(seen) == 1


def test_select_sets_the_session_selection_and_tells_every_listener():
    state = ViewerState()
    fields = pd.DataFrame({PLATE: ["P1"], WELL: ["A01"], SITE: [1]})
    state.session = PlateSession(source=Path("."), fields=fields)
    seen = recorder(state.events.selection_changed)
    state.select([("P1", "A01", 1, 7)])
    assert state.session.selected == [("P1", "A01", 1, 7)]
    assert seen == [([("P1", "A01", 1, 7)],)]


def test_state_of_gives_one_state_per_viewer():
    class Viewer:  # any weak-referenceable object stands for a napari viewer
        pass

    first, second = Viewer(), Viewer()
    assert state_of(first) is state_of(first)
    assert state_of(first) is not state_of(second)


def test_opening_and_closing_a_session_fires_session_changed_once_each():
    state = ViewerState()
    seen = recorder(state.events.session_changed)
    session = a_session()
    state.session = session
    state.session = session  # the same plate again: nothing changed
    state.session = None
    assert seen == [(session,), (None,)]


def test_current_fires_field_changed_once_per_new_row_and_only_for_the_open_session():
    state = ViewerState()
    first, second = a_session(), a_session()
    seen = recorder(state.events.field_changed)
    first.current = 1  # not open yet: no listener of the viewer hears it
    state.session = first
    first.current = 2
    first.current = 2  # the field already on show
    state.session = second
    first.current = 0  # no longer the viewer's session
    second.current = 1
    assert seen == [(2,), (1,)]
    # __init__ sets it before the events exist
    assert PlateSession(source=Path("."), fields=first.fields, current=2).current == 2


def test_cell_table_changes_fire_cells_changed_once_each(real_profiles):
    real_cells = profile_table(real_single_cells(real_profiles), "cells.csv.gz")
    state = ViewerState()
    seen = recorder(state.events.cells_changed)
    adopt_profile_table(state, real_cells, name="cellprofiler")  # opens a session: no event
    assert seen == []
    session = state.session
    add_profile_table(session, real_cells, name="again")
    choose_annotations(session)
    session.add_well_profiles({"copy": session.well_profiles["again"]})
    cells, columns = session.cells, session.feature_columns
    adopt_pipeline_output(session, cells, columns, dict(session.well_profiles))
    assert len(seen) == 4
    assert set(session.well_profiles) == {"cellprofiler", "again", "copy"}


def test_record_profile_fires_cells_changed_once():
    session = a_session()
    seen = recorder(session.events.cells_changed)
    labels = np.zeros((4, 4), dtype=np.int32)
    table = pd.DataFrame({PLATE: ["P1"], WELL: ["A01"], SITE: [1], "label": [1], "f": [0.5]})
    field = FieldProfile(0, ("P1", "A01", 1), labels, labels, table, {"classical": ["f"]})
    record_profile(session, field)
    assert len(seen) == 1 and session.cell_counts == {("P1", "A01"): 1}


def test_select_fires_on_every_call_even_with_the_same_keys():
    state = ViewerState()
    seen = recorder(state.events.selection_changed)
    state.select([("P1", "A01", 1, 7)])
    state.select([("P1", "A01", 1, 7)])  # a second click on the cell shows it again
    assert len(seen) == 2


#: The events of the viewer's model: only the model (session/) fires them.
MODEL_EVENTS = {"session_changed", "field_changed", "cells_changed", "selection_changed",
                "model_changed"}  # fmt: skip


def emits_by_hand(source: str) -> list[int]:
    """Lines of ``source`` that call ``<...>.<model event>.emit(...)``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "emit"
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr in MODEL_EVENTS
    ]


def test_the_guard_sees_an_event_fired_by_hand():
    assert emits_by_hand("state.events.cells_changed.emit()\nother.mark.emit(1)\n") == [1]


def test_no_module_outside_session_fires_the_models_events():
    package = Path(napari_phenoscope.__file__).parent
    offenders = [
        f"{path.relative_to(package)}:{line}"
        for path in sorted(package.rglob("*.py"))
        if path.parent.name != "session"
        for line in emits_by_hand(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "fire them from a setter or method of session/state.py"

"""The viewer's evented session, headless: setters fire events, scripts need no widget."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from napari_phenoscope.constants import PLATE, SITE, WELL
from napari_phenoscope.session.state import PlateSession, ViewerState, state_of


def recorder(signal) -> list:
    seen: list = []
    signal.connect(lambda *args: seen.append(args))
    return seen


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

"""The scripted tour: every step performed in a real viewer (xvfb-run), one PNG per step."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_profile_dock import small_weights

from napari_phenoscope.app.tour import TOUR_STEPS, run_tour
from napari_phenoscope.cli import main

__all__ = ["small_weights"]  # a fixture shared with the profile dock tests


@pytest.mark.gui
def test_a_missing_plate_stops_the_tour_with_one_line(tmp_path, capsys):
    code = main(["tour", str(tmp_path / "missing"), "--screenshots", str(tmp_path / "shots")])
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert error.startswith("phenoscope tour: error: cannot open") and "\n" not in error


@pytest.mark.gui
@pytest.mark.slow
def test_the_tour_screenshots_every_step(small_demo, small_weights, tmp_path):
    steps = run_tour(small_demo, tmp_path / "shots", tmp_path / "profiles", "cpu", small_weights)
    assert [step.name for step in steps] == list(TOUR_STEPS)
    sizes = set()
    for step in steps:
        image = np.asarray(Image.open(step.path).convert("RGB"))
        sizes.add(image.shape)
        assert image.std() > 10, step.name  # a rendered window, not a blank frame
    assert len(sizes) == 1  # every step shows the same window

"""The scripted tour: every step performed in a real viewer (xvfb-run), one PNG per step."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_profile_dock import small_weights

from napari_phenoscope.app.tour import TOUR_STEPS, bi2536_wells, run_tour
from napari_phenoscope.cli import main
from napari_phenoscope.demo.project import BI_2536, ensure_demo_plates
from napari_phenoscope.io import read_well_metadata

__all__ = ["small_weights"]  # a fixture shared with the profile dock tests


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    """The demo project at its smallest: 12 wells per plate, one 128 px site, one replicate."""
    cache = tmp_path_factory.mktemp("demo")
    return ensure_demo_plates(cache, n_wells=12, n_sites=1, size=128, n_replicates=1)


def test_bi2536_wells_come_from_the_plate_map(small_demo):
    wells = bi2536_wells(read_well_metadata(small_demo))
    metadata = read_well_metadata(small_demo).set_index(["Metadata_Plate", "Metadata_Well"])
    assert wells and all(metadata.loc[key, "Metadata_broad_sample"] == BI_2536 for key in wells)
    assert wells == sorted(wells)


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

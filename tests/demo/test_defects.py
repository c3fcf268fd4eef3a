"""Demo field defects: what each does to a field, seeded, and the truth written beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_phenoscope.demo.defects import DEFECTS, QC_TRUTH_NAME, apply_defect, choose_defect
from napari_phenoscope.demo.design import render_well_site
from napari_phenoscope.demo.project import write_demo_plates
from napari_phenoscope.demo.render import MAX_VALUE
from napari_phenoscope.errors import PhenoscopeError
from napari_phenoscope.qc import power_log_log_slope

KEY = ("BR00116991", "A02", 1)


@pytest.fixture(scope="module")
def clean():
    return render_well_site(0, "compound", 1, "A02", 1, size=128)


def test_defocus_blurs_every_channel(clean):
    blurred = apply_defect(clean, "defocus", 0, KEY)
    for channel in range(5):
        assert power_log_log_slope(blurred.image[channel]) < (
            power_log_log_slope(clean.image[channel]) - 0.5
        )
    assert blurred.metadata["defect"] == "defocus"
    assert np.array_equal(blurred.cells, clean.cells)  # the cells are still there


def test_debris_saturates_discs_in_several_channels(clean):
    debris = apply_defect(clean, "debris", 0, KEY)
    saturated = (debris.image == MAX_VALUE).sum(axis=(1, 2))
    assert (saturated >= np.pi * 12**2 * 0.9).sum() >= 2  # at least one 12 px disc, 2+ channels


def test_empty_fields_hold_background_and_no_cells(clean):
    empty = apply_defect(clean, "empty", 0, KEY)
    assert empty.cells.max() == 0 and empty.nuclei.max() == 0
    background = clean.image[0][clean.cells == 0]
    assert empty.image[0].max() < np.percentile(clean.image[0], 99)
    assert abs(float(np.median(empty.image[0])) - float(np.percentile(background, 25))) < 5


def test_defects_are_seeded_and_drawn_at_the_asked_fraction():
    draws = [choose_defect(0, "P", f"A{w:02d}", s, 0.3) for w in range(1, 25) for s in (1, 2, 3)]
    assert draws == [
        choose_defect(0, "P", f"A{w:02d}", s, 0.3) for w in range(1, 25) for s in (1, 2, 3)
    ]
    defective = [d for d in draws if d]
    assert 0.15 < len(defective) / len(draws) < 0.45 and set(defective) == set(DEFECTS)
    assert choose_defect(0, "P", "A01", 1, 0.0) == ""
    with pytest.raises(ValueError, match="unknown demo defect"):
        apply_defect(render_well_site(0, "compound", 1, "A02", 1, size=64), "dust", 0, KEY)


def test_write_demo_plates_writes_the_truth_and_clean_plates_stay_as_they_were(tmp_path):
    small = {"n_wells": 12, "n_sites": 2, "size": 64, "n_replicates": 1, "progress": False}
    manifest = write_demo_plates(tmp_path / "defects", defects=0.5, **small)
    truth = pd.read_csv(manifest.root / "ground_truth" / QC_TRUTH_NAME, keep_default_na=False)
    assert len(truth) == 3 * 12 * 2 and set(truth["defect"]) - {""} <= set(DEFECTS)
    assert manifest.parameters["defects"] == 0.5
    clean = write_demo_plates(tmp_path / "clean", **small)
    assert "defects" not in clean.parameters  # the cache folder of clean plates is unchanged
    assert not (clean.root / "ground_truth" / QC_TRUTH_NAME).exists()
    with pytest.raises(PhenoscopeError, match="defects=1.5"):
        write_demo_plates(tmp_path / "bad", defects=1.5, **small)

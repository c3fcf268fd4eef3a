"""Cells -> well profiles: features that can not be scaled to the controls are dropped."""

from __future__ import annotations

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CONTROL_TYPE, NEGATIVE_CONTROL, PLATE, WELL
from napari_phenoscope.profiling.wells import well_profiles


def _cells(rng: np.random.Generator) -> pd.DataFrame:
    """Two plates; per plate 4 control and 4 treated wells of 5 cells."""
    rows = []
    for plate in ("P1", "P2"):
        for index in range(8):
            control = index < 4
            for _ in range(5):
                rows.append(
                    {
                        PLATE: plate,
                        WELL: f"A{index + 1:02d}",
                        CONTROL_TYPE: NEGATIVE_CONTROL if control else "",
                        "Cells_Intensity_Mean_DNA": rng.normal(1.0 if control else 2.0, 0.1),
                        # genuine spread at a small scale: kept
                        "Cells_Intensity_Mean_Mito": rng.normal(1e-6, 1e-7),
                        # 0 in the controls up to rounding, as a coarse granularity scale is
                        "Cells_Granularity_9_DNA": (
                            rng.normal(0.0, 1e-15) if control else rng.normal(0.5, 0.1)
                        ),
                        # exactly 0 in the controls
                        "Cells_Intensity_MinIntensity_DNA": 0.0 if control else rng.uniform(),
                    }
                )
    return pd.DataFrame(rows)


def test_features_without_spread_in_the_controls_are_dropped_not_blown_up():
    cells = _cells(np.random.default_rng(0))
    features = [c for c in cells.columns if c.startswith("Cells_")]
    profiles = well_profiles(cells, features)
    kept = [c for c in profiles.columns if c.startswith("Cells_")]
    assert "Cells_Granularity_9_DNA" not in kept  # its control MAD (~1e-15) is rounding noise
    assert "Cells_Intensity_MinIntensity_DNA" not in kept  # MAD exactly 0
    assert {"Cells_Intensity_Mean_DNA", "Cells_Intensity_Mean_Mito"} <= set(kept)
    assert profiles[kept].abs().to_numpy().max() < 1e3  # nothing scaled up by ~1e14

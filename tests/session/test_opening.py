"""Opening a plate for the viewer, headless: the status line that describes what opened."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from napari_phenoscope.constants import PLATE, SITE, WELL
from napari_phenoscope.session.opening import describe_session
from napari_phenoscope.session.state import PlateSession


def test_describe_session_names_fields_plates_annotations_illumination_and_pixel_size():
    fields = pd.DataFrame(
        {
            PLATE: ["P1", "P1", "P2"],
            WELL: ["A01", "A02", "A01"],
            SITE: [1, 1, 1],
            "FileName_IllumDNA": ["illum_dna.npy"] * 3,
            "PathName_IllumDNA": ["/illum"] * 3,
        }
    )
    session = PlateSession(source=Path("."), fields=fields)
    session.extras["pixel_size"] = 0.65
    assert describe_session(session) == (
        "3 fields on 2 plate(s); no well metadata (profiles normalise to all wells); "
        "illumination-corrected; 0.65 µm/px"
    )


def test_describe_session_says_what_is_unknown():
    fields = pd.DataFrame({PLATE: ["P1"], WELL: ["A01"], SITE: [1]})
    wells = pd.DataFrame({PLATE: ["P1"], WELL: ["A01"]})
    session = PlateSession(source=Path("."), fields=fields, well_metadata=wells)
    assert describe_session(session) == "1 fields on 1 plate(s); pixel size unknown"

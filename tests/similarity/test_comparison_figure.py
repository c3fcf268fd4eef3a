"""The Compare figure's feature heat map: every row label readable, on a slide and in a dock.

Classical profiles with 60 feature groups (3 compartments x 4 measurements x 5 stains), two
features a group moving apart, give the longest sentences the figure writes ("up and down
±12.3 MAD in BI-2536, up and down ±30.5 in PLK1"); the labels must keep to their rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from test_explain_cells import WELLS, metadata

from napari_phenoscope.constants import CHANNELS, NEGATIVE_CONTROL
from napari_phenoscope.similarity.comparison import compare
from napari_phenoscope.similarity.comparison_figure import (
    SLIDE_SIZE,
    TOP_GROUPS,
    _two_lines,
    draw_comparison,
    feature_rows,
    figure_height,
)

COMPARTMENTS = ("Nuclei", "Cells", "Cytoplasm")
FAMILIES = ("Intensity", "Texture", "Granularity", "RadialDistribution")
#: Widths (inches) of the Compare dock's figure: its default width in a 1680 px window and
#: a narrower one.
DOCK_WIDTHS = (5.2, 4.1)


def wordy_profiles() -> pd.DataFrame:
    """Classical well profiles whose groups move apart (long "up and down" sentences)."""
    columns = [
        f"{compartment}_{family}_{measure}_{channel}"
        for compartment in COMPARTMENTS
        for family in FAMILIES
        for channel in CHANNELS
        for measure in ("First", "Second")
    ]
    rng = np.random.default_rng(3)
    shared = rng.normal(0, 12, len(columns)) * np.tile([1.0, -1.0], len(columns) // 2)
    rows = []
    for well, spec in WELLS.items():
        if spec[3] == NEGATIVE_CONTROL:
            values = rng.normal(0, 0.2, len(columns))
        elif spec[0] in ("BI-2536", "PLK1"):
            values = shared * (1.0 if spec[0] == "BI-2536" else 2.5) + rng.normal(
                0, 1, len(columns)
            )
        else:
            values = rng.normal(0, 15, len(columns))
        rows.append({**metadata(well), **dict(zip(columns, values, strict=True))})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def comparison():
    return compare({"classical": wordy_profiles()}, "BI-2536", "PLK1", null_size=50)


def row_labels(figure: Figure) -> list:
    """The heat map's row labels (the axes whose y tick labels are the group sentences)."""
    FigureCanvasAgg(figure).draw()
    for axes in figure.axes:
        labels = [label for label in axes.get_yticklabels() if label.get_text()]
        if len(labels) == TOP_GROUPS and ":" in labels[0].get_text():
            return labels
    raise AssertionError("no feature heat map drawn")


def assert_readable(figure: Figure) -> None:
    labels = row_labels(figure)
    renderer = figure.canvas.get_renderer()
    boxes = [label.get_window_extent(renderer) for label in labels]
    page = figure.bbox
    for upper, lower in zip(boxes, boxes[1:], strict=False):
        # rows run top to bottom; a label ends above the next one starts
        assert min(upper.y0, upper.y1) >= max(lower.y0, lower.y1) - 0.5, (upper, lower)
    for box, label in zip(boxes, labels, strict=True):
        assert box.x0 >= page.x0 and box.x1 <= page.x1, label.get_text()  # not cut off
        assert label.get_fontsize() >= 6.5, label.get_text()  # readable, not shrunk away


def test_the_sentences_are_long_enough_to_wrap(comparison):
    rows = feature_rows(comparison)
    assert len(rows) == TOP_GROUPS
    assert max(len(sentence) for sentence in rows["sentence"]) > 60
    assert any("up and down" in sentence for sentence in rows["sentence"])


def test_row_labels_keep_to_their_rows_on_the_exported_slide(comparison):
    figure = Figure(figsize=SLIDE_SIZE, dpi=150)
    draw_comparison(figure, comparison)
    assert_readable(figure)


@pytest.mark.parametrize("width", DOCK_WIDTHS)
def test_row_labels_keep_to_their_rows_in_the_dock(comparison, width):
    figure = Figure(figsize=(width, figure_height(comparison, width)), dpi=100)
    draw_comparison(figure, comparison)
    assert_readable(figure)
    labels = row_labels(figure)
    # the dock's rows hold three lines: the subject and the whole change, for most groups
    assert sum(not label.get_text().endswith("…") for label in labels) >= TOP_GROUPS // 2


def test_a_label_keeps_to_its_lines_and_says_when_it_was_cut():
    sentence = "DNA granularity in the nucleus: " + (
        "up and down ±15.7 MAD in BI-2536, up and down ±30.5 in PLK1"
    )
    assert _two_lines(sentence, 40) == (
        "DNA granularity in the nucleus:\n"
        "up and down ±15.7 MAD in BI-2536, up and\n"
        "down ±30.5 in PLK1"
    )
    two = _two_lines(sentence, 40, max_lines=2).split("\n")
    assert two == ["DNA granularity in the nucleus:", "up and down ±15.7 MAD in BI-2536, up…"]
    assert _two_lines(sentence, 80, max_lines=2).split("\n")[1].endswith("in PLK1")  # fits whole
    one = _two_lines(sentence, 30, max_lines=1)
    assert "\n" not in one and one.endswith("…") and len(one) <= 30
    assert _two_lines("nucleus shape and size", 12, max_lines=1) == "nucleus…"

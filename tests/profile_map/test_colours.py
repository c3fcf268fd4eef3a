"""Point colours of the profile map: the plate grid's category colours, viridis for numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from napari_phenoscope.io.plate_layout import category_colour
from napari_phenoscope.profile_map.colours import point_colours, rgba_at


def test_point_colours_match_the_plate_grid_and_scale_numbers():
    colours = point_colours(pd.Series(["compound", "crispr", "compound"]))
    assert tuple(colours.rgba[0]) == category_colour("compound")
    assert tuple(colours.rgba[0]) == tuple(colours.rgba[2])
    assert [name for name, _ in colours.legend] == ["compound", "crispr"]
    numbers = point_colours(pd.Series([0.0, 5.0, 10.0, np.nan]))
    assert numbers.numeric and numbers.legend[0][0] == "0" and numbers.legend[1][0] == "10"
    assert tuple(numbers.rgba[3]) == (0.55, 0.55, 0.55, 1.0)


def test_categories_beyond_the_legend_are_counted_as_other():
    colours = point_colours(pd.Series(["a", "a", "a", "b", "b", "c"]), max_legend=2)
    assert [name for name, _ in colours.legend] == ["a", "b", "1 other"]
    assert colours.rgba.shape == (6, 4) and not colours.numeric
    assert rgba_at(0.0) == colours_of_viridis(0.0)


def colours_of_viridis(fraction: float) -> tuple[float, ...]:
    from matplotlib import colormaps

    return tuple(float(c) for c in colormaps["viridis"](fraction))

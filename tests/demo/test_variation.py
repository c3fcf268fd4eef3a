"""Domain randomisation: the default look is untouched, training looks vary, held-out is apart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_phenoscope.cli import main
from napari_phenoscope.demo.design import render_well_site
from napari_phenoscope.demo.project import write_demo_plates
from napari_phenoscope.demo.render import RenderStyle, render_field
from napari_phenoscope.demo.variation import (
    HELDOUT_STYLE,
    TRAINING_RANGES,
    field_style,
    outside_training,
    sample_style,
)
from napari_phenoscope.errors import PhenoscopeError


def test_the_default_style_renders_the_demo_pixels_unchanged():
    plain = render_field(3, size=96)
    styled = render_field(3, size=96, style=RenderStyle())
    np.testing.assert_array_equal(plain.image, styled.image)
    np.testing.assert_array_equal(plain.cells, styled.cells)


def test_each_knob_changes_what_it_says():
    base = render_field(3, size=128)
    nuclei_area = np.count_nonzero(base.nuclei) / base.nuclei.max()
    big = render_field(3, size=128, style=RenderStyle(nucleus_scale=1.4, cell_scale=1.4))
    assert np.count_nonzero(big.nuclei) / big.nuclei.max() > 1.5 * nuclei_area
    dense = render_field(3, size=128, style=RenderStyle(density=2.0))
    assert dense.nuclei.max() > base.nuclei.max()
    hazy = render_field(3, size=128, style=RenderStyle(background=200.0))
    background = base.cells == 0
    assert np.median(hazy.image[:, background]) > np.median(base.image[:, background]) + 150
    bleed = np.eye(5)
    bleed[1, 0] = 0.5  # half of the DNA signal shows in ER
    leaky = render_field(3, size=128, style=RenderStyle(crosstalk=tuple(map(tuple, bleed))))
    inside = base.nuclei > 0
    assert leaky.image[1][inside].mean() > base.image[1][inside].mean() + 200
    np.testing.assert_array_equal(leaky.image[0], base.image[0])


def test_training_looks_vary_per_field_within_their_ranges_and_are_reproducible():
    styles = [field_style("train", 1, "BR1", well, 1) for well in ("A01", "A02", "B07")]
    assert len({s.nucleus_scale for s in styles}) == 3
    assert field_style("train", 1, "BR1", "A01", 1) == styles[0]
    for style in (sample_style(np.random.default_rng(k)) for k in range(50)):
        assert not outside_training(style)
        low, high = TRAINING_RANGES["intensity"]
        assert all(low <= v <= high for v in style.intensity)


def test_the_held_out_look_lies_outside_every_training_range():
    assert len(outside_training(HELDOUT_STYLE)) == 6
    assert field_style("heldout", 0, "BR1", "A01", 1) is HELDOUT_STYLE
    with pytest.raises(ValueError, match="variation"):
        field_style("wild", 0, "BR1", "A01", 1)  # type: ignore[arg-type]


def test_a_randomised_project_records_its_variation_and_changes_only_the_look(tmp_path):
    manifest = write_demo_plates(
        tmp_path / "p",
        seed=2,
        n_wells=12,
        n_sites=1,
        size=64,
        n_replicates=1,
        progress=False,
        variation="heldout",
    )
    saved = json.loads((manifest.root / "demo_manifest.json").read_text())
    assert saved["parameters"]["variation"] == "heldout"
    plain = render_well_site(2, "compound", 1, "A01", 1, size=64)
    styled = render_well_site(2, "compound", 1, "A01", 1, size=64, style=HELDOUT_STYLE)
    assert not np.array_equal(plain.image, styled.image)
    with pytest.raises(PhenoscopeError, match="variation"):
        write_demo_plates(tmp_path / "q", n_wells=12, n_sites=1, size=64, variation="wild")


def test_cli_demo_data_renders_randomised_looks(tmp_path, capsys):
    code = main(
        [
            "demo-data",
            str(tmp_path / "d"),
            "--wells",
            "12",
            "--sites",
            "1",
            "--size",
            "64",
            "--replicates",
            "1",
            "--variation",
            "train",
            "--no-progress",
        ]
    )
    assert code == 0 and "3 plates" in capsys.readouterr().out
    saved = json.loads((tmp_path / "d" / "demo_manifest.json").read_text())
    assert saved["parameters"]["variation"] == "train"

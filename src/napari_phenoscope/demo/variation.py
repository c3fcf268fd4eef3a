"""Domain randomisation of the demo renderer: many looks for training, one unlike them for tests.

An encoder trained on one renderer's look learns that look (issue 21: the ViT's lead on the
demo's own seeds shrank below classical features on plates from another renderer). Here each
training field gets its own ``render.RenderStyle`` drawn from wide ranges (cell and nucleus
size, density, texture grain, optics blur, haze, per-channel intensity, channel bleed-through),
so morphology is the only thing that stays put; and a *held-out* style lies outside every
training range on several axes at once, as the closest stand-in for plates this project did
not render.

Ranges are calibrated against the real fields under ``../shared/data/real-cellpainting``
(``benchmarks/calibrate_variation.py`` prints the measurements; docs/model_card.md records
them): the training range of nucleus area at the demo's pixel size brackets the real DAOY
and U2OS nuclei, and the intensity scales span the real channels' spread of median
foreground / background ratios.

``write_demo_plates(..., variation="train" | "heldout")`` uses these; without it (the default)
the demo plates are rendered exactly as before.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.demo.render import RenderStyle

Variation = Literal["train", "heldout"]
VARIATIONS: Final[tuple[str, ...]] = ("train", "heldout")

#: Training ranges (low, high); scales are drawn log-uniformly, the rest uniformly.
TRAINING_RANGES: Final[dict[str, tuple[float, float]]] = {
    "nucleus_scale": (0.75, 1.3),
    "cell_scale": (0.8, 1.25),
    "density": (0.6, 1.4),
    "texture_scale": (0.7, 1.4),
    "psf_sigma": (0.5, 1.4),
    "background": (2.0, 40.0),
    "intensity": (0.6, 1.6),
    "crosstalk": (0.0, 0.06),
}

#: The held-out look: larger, sparser cells with coarser texture behind blurrier optics,
#: more haze, other channel balances and stronger bleed-through than any training field.
HELDOUT_STYLE: Final[RenderStyle] = RenderStyle(
    nucleus_scale=1.42,
    cell_scale=1.35,
    density=0.5,
    texture_scale=1.65,
    psf_sigma=1.7,
    background=70.0,
    intensity=(0.5, 1.8, 0.55, 1.75, 0.5),
    crosstalk=(
        (1.0, 0.0, 0.0, 0.0, 0.0),
        (0.12, 1.0, 0.0, 0.0, 0.0),  # DNA bleeds into ER (Hoechst tail)
        (0.0, 0.1, 1.0, 0.0, 0.0),  # ER into RNA (neighbouring filters)
        (0.0, 0.0, 0.1, 1.0, 0.0),
        (0.0, 0.0, 0.0, 0.1, 1.0),
    ),
)


def sample_style(rng: np.random.Generator) -> RenderStyle:
    """Draw one training look from ``TRAINING_RANGES``.

    Parameters
    ----------
    rng
        The field's random generator (its own stream, so the field's cells do not change).

    Returns
    -------
    RenderStyle

    Examples
    --------
    >>> style = sample_style(np.random.default_rng(0))
    >>> 0.75 <= style.nucleus_scale <= 1.3
    True
    """

    def log_uniform(name: str, size: int | None = None) -> np.ndarray | float:
        low, high = TRAINING_RANGES[name]
        return np.exp(rng.uniform(np.log(low), np.log(high), size))

    def uniform(name: str, size: int | None = None) -> np.ndarray | float:
        return rng.uniform(*TRAINING_RANGES[name], size)

    n_channels = len(CHANNELS)
    # bleed-through from each channel into the next one (spectral neighbours in CHANNELS
    # order: DNA -> ER -> RNA -> AGP -> Mito)
    crosstalk = np.eye(n_channels)
    crosstalk[np.arange(1, n_channels), np.arange(n_channels - 1)] = uniform(
        "crosstalk", n_channels - 1
    )
    return RenderStyle(
        nucleus_scale=float(log_uniform("nucleus_scale")),
        cell_scale=float(log_uniform("cell_scale")),
        density=float(log_uniform("density")),
        texture_scale=float(log_uniform("texture_scale")),
        psf_sigma=float(uniform("psf_sigma")),
        background=float(uniform("background")),
        intensity=tuple(float(v) for v in log_uniform("intensity", n_channels)),
        crosstalk=tuple(tuple(float(v) for v in row) for row in crosstalk),
    )


def field_style(variation: Variation, seed: int, plate: str, well: str, site: int) -> RenderStyle:
    """The look of one demo field under a variation regime.

    ``"train"``: a fresh draw per field (seeded by seed, plate, well and site, so a project is
    reproducible); ``"heldout"``: ``HELDOUT_STYLE`` for every field.

    Raises
    ------
    ValueError
        If ``variation`` is not one of ``VARIATIONS``.
    """
    if variation == "heldout":
        return HELDOUT_STYLE
    if variation != "train":
        raise ValueError(f"variation must be one of {', '.join(VARIATIONS)}, not {variation!r}")
    key = [seed, *plate.encode(), *well.encode(), site]
    return sample_style(np.random.default_rng(np.random.SeedSequence([0x5717E, *key])))


def outside_training(style: RenderStyle) -> list[str]:
    """The scalar knobs of ``style`` that lie outside ``TRAINING_RANGES`` (held-out check)."""
    names = ("nucleus_scale", "cell_scale", "density", "texture_scale", "psf_sigma", "background")
    outside = []
    for name in names:
        low, high = TRAINING_RANGES[name]
        if not low <= getattr(style, name) <= high:
            outside.append(name)
    return outside

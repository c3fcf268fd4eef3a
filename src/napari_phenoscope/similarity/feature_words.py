"""CellProfiler feature names in the words a biologist uses, with direction and size.

``Nuclei_Intensity_MeanIntensity_Mito`` is "Mito intensity in the nucleus (mean)", and a
feature group whose mean robust z-score against the controls is +3.1 on both sides of a
match reads "Mito intensity in the nucleus: up 3.1 MAD in both". The Compare figure and
``phenoscope explain`` write these instead of column names or "(changed / changed)".

Profiles are robust z-scores (``(x - median) / (1.4826 MAD)`` of the plate's negative
controls), so one unit is one MAD of the controls, scaled to a standard deviation.

Pure functions over strings and numbers: no pandas, no plotting.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from napari_phenoscope.constants import CHANNELS

#: CellProfiler compartments (the first part of a column name) as a phrase.
COMPARTMENT_WORDS = {"Cells": "the cell", "Nuclei": "the nucleus", "Cytoplasm": "the cytoplasm"}
#: Compartments as the subject of a shape measurement.
COMPARTMENT_NOUNS = {"Cells": "cell", "Nuclei": "nucleus", "Cytoplasm": "cytoplasm"}
#: CellProfiler measurement modules (the second part) in words.
MEASUREMENT_WORDS = {
    "Intensity": "intensity",
    "Texture": "texture",
    "Granularity": "granularity",
    "RadialDistribution": "radial distribution",
    "Correlation": "colocalization",
    "AreaShape": "shape and size",
    "Location": "position",
    "Neighbors": "neighbours",
}
#: Measurement details that read better spelled out.
DETAIL_WORDS = {
    "MeanIntensity": "mean",
    "IntegratedIntensity": "total",
    "MedianIntensity": "median",
    "StdIntensity": "spread",
    "MaxIntensity": "maximum",
    "MinIntensity": "minimum",
    "MassDisplacement": "off-centre",
    "FracAtD": "fraction at distance",
    "MeanFrac": "mean fraction",
    "RadialCV": "variation around the ring",
}
#: Two sides whose sizes differ by less than this share read as one number ("in both").
SAME_SIZE = 0.25


def _channels(parts: Sequence[str]) -> list[str]:
    names = [part.removeprefix("Orig") for part in parts]
    return [name for name in dict.fromkeys(names) if name in CHANNELS]


def _detail(parts: Sequence[str]) -> str:
    words = []
    for part in parts:
        name = part.removeprefix("Orig")
        if name in CHANNELS:
            continue
        ring = re.fullmatch(r"(\d+)of(\d+)", name)
        if ring:
            words.append(f"ring {ring[1]} of {ring[2]}")
        elif name.isdigit():
            if not any(word.startswith("scale") for word in words):  # not angle, grey levels
                words.append(f"scale {int(name)}")
        else:
            spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower()
            words.append(DETAIL_WORDS.get(name, spaced))
    return ", ".join(words)


def group_words(compartment: str, channel: str, family: str) -> str:
    """A feature group in words: the stain, the measurement and the compartment.

    ``compartment``, ``channel`` and ``family`` are ``attribution.feature_group``'s parts
    (``family`` a readable measurement name or a CellProfiler module name); an unknown
    compartment (a ViT dimension) returns ``family`` as is.

    Examples
    --------
    >>> group_words("Nuclei", "Mito", "intensity")
    'Mito intensity in the nucleus'
    >>> group_words("Cells", "", "shape")
    'cell shape and size'
    >>> group_words("Cytoplasm", "ER-Mito", "colocalization")
    'ER–Mito colocalization in the cytoplasm'
    """
    if compartment not in COMPARTMENT_WORDS:
        return family
    measurement = MEASUREMENT_WORDS.get(family, family)
    if measurement in ("shape", "shape and size"):
        return f"{COMPARTMENT_NOUNS[compartment]} shape and size"
    stain = channel.replace("-", "–")
    return " ".join(p for p in (stain, measurement, "in", COMPARTMENT_WORDS[compartment]) if p)


def feature_words(name: str) -> str:
    """A CellProfiler feature column in words; other names are returned unchanged.

    Examples
    --------
    >>> feature_words("Nuclei_Intensity_MeanIntensity_Mito")
    'Mito intensity in the nucleus (mean)'
    >>> feature_words("Cells_Texture_Contrast_RNA_3")
    'RNA texture in the cell (contrast, scale 3)'
    >>> feature_words("Cytoplasm_RadialDistribution_FracAtD_OrigMito_1of4")
    'Mito radial distribution in the cytoplasm (fraction at distance, ring 1 of 4)'
    >>> feature_words("Nuclei_AreaShape_Eccentricity")
    'nucleus shape and size (eccentricity)'
    >>> feature_words("Cells_ViT_0017")
    'Cells_ViT_0017'
    """
    parts = name.split("_")
    if len(parts) < 3 or parts[0] not in COMPARTMENT_WORDS or parts[1] not in MEASUREMENT_WORDS:
        return name
    group = group_words(parts[0], "-".join(_channels(parts[2:])), parts[1])
    detail = _detail(parts[2:])
    return f"{group} ({detail})" if detail else group


def change_words(direction: str, size: float) -> str:
    """One side's change from the controls: "up 3.1 MAD", "down 0.8 MAD", "unchanged".

    ``direction`` is ``attribution.direction``'s word ("up", "down", "changed" or "");
    ``size`` the group's mean z-score (up / down) or its root-mean-square (changed).
    """
    if direction in ("up", "down"):
        return f"{direction} {abs(size):.1f} MAD"
    if direction == "changed":  # the group's features move both ways
        return f"up and down ±{abs(size):.1f} MAD"
    return "unchanged"


def compared_words(
    subject: str, sides: Sequence[tuple[str, str, float]], both: str = "in both"
) -> str:
    """A feature group across two sides, e.g. "Mito intensity in the nucleus: up 3.1 MAD in both".

    Parameters
    ----------
    subject
        The group in words (``group_words``).
    sides
        ``(name, direction, size)`` of each side, e.g. ``("BI-2536", "up", 3.1)``.
    both
        The words for "the same on both sides".

    Examples
    --------
    >>> compared_words("DNA in the nucleus", [("BI-2536", "up", 3.2), ("PLK1", "up", 3.0)])
    'DNA in the nucleus: up 3.1 MAD in both'
    >>> compared_words("DNA in the nucleus", [("BI-2536", "up", 3.1), ("BRD4", "down", -1.2)])
    'DNA in the nucleus: up 3.1 MAD in BI-2536, down 1.2 in BRD4'
    """
    (_, first, first_size), (_, second, second_size) = sides[:2]
    largest = max(abs(first_size), abs(second_size))
    if first == second and (
        not first or abs(abs(first_size) - abs(second_size)) <= SAME_SIZE * largest
    ):
        mean = (abs(first_size) + abs(second_size)) / 2
        return f"{subject}: {change_words(first, mean)} {both}"
    parts = [f"{change_words(direction, size)} in {name}" for name, direction, size in sides]
    parts[1:] = [part.replace(" MAD", "", 1) for part in parts[1:]]  # the unit once
    return f"{subject}: {', '.join(parts)}"

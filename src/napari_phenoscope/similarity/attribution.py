"""Which features make two profiles similar: the exact share of each feature and group.

The cosine similarity of two profiles is a sum over features,
``cos(q, m) = sum_i q_i m_i / (|q| |m|)``, so every feature, and every group of features
(compartment x channel x measurement family, e.g. "Nuclei DNA intensity"), has an exact
share of it: positive where both sides move the same way from the controls, negative where
they move in opposite ways. The shares add up to the similarity. Profiles are robust
z-scores against the plate's negative controls, so a group's mean z-score says how each
side differs from the controls ("up", "down", "changed"). ``explain`` builds on this.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.errors import ProfileTableError

#: Readable names of CellProfiler measurement families (the second part of a column name).
FAMILY_NAMES: dict[str, str] = {
    "AreaShape": "shape",
    "Intensity": "intensity",
    "Texture": "texture",
    "Granularity": "granularity",
    "Correlation": "colocalization",
    "RadialDistribution": "radial distribution",
    "Location": "location",
    "Neighbors": "neighbours",
}
#: A group's mean |z| under this (in robust z-scores) reads as "unchanged".
CHANGE_THRESHOLD = 1.0


def feature_group(name: str) -> tuple[str, str, str]:
    """(compartment, channel, family) of a CellProfiler-style feature column.

    Channels are the ``CHANNELS`` named in the column (``Orig`` prefixes allowed), joined
    with "-" for colocalization; shape features have none. Columns that do not follow the
    CellProfiler pattern (e.g. ViT dimensions ``Cells_ViT_0000``) are one group per name
    less its last part.

    Examples
    --------
    >>> feature_group("Nuclei_Intensity_MeanIntensity_DNA")
    ('Nuclei', 'DNA', 'intensity')
    >>> feature_group("Cells_Correlation_Correlation_ER_Mito")
    ('Cells', 'ER-Mito', 'colocalization')
    >>> feature_group("Cytoplasm_AreaShape_Area")
    ('Cytoplasm', '', 'shape')
    """
    parts = name.split("_")
    if len(parts) < 3 or parts[1] not in FAMILY_NAMES:
        return "", "", name.rsplit("_", 1)[0]
    channels = [p.removeprefix("Orig") for p in parts[2:]]
    named = [c for c in dict.fromkeys(channels) if c in CHANNELS]
    return parts[0], "-".join(named), FAMILY_NAMES[parts[1]]


def group_label(compartment: str, channel: str, family: str) -> str:
    """E.g. ``"Nuclei DNA intensity"``, ``"Cells shape"``."""
    return " ".join(part for part in (compartment, channel, family) if part)


def cosine(first: np.ndarray, second: np.ndarray) -> float:
    """Cosine similarity of two vectors (float64).

    Raises
    ------
    ProfileTableError
        If either vector is all zeros (it has no direction to compare).
    """
    first = np.asarray(first, dtype=np.float64)
    second = np.asarray(second, dtype=np.float64)
    norms = np.linalg.norm(first) * np.linalg.norm(second)
    if norms == 0:
        raise ProfileTableError("a profile is all zeros: it has no direction to compare")
    return float(first @ second / norms)


def feature_contributions(
    query: np.ndarray, match: np.ndarray, feature_columns: Sequence[str]
) -> pd.DataFrame:
    """Each feature's exact share of the cosine similarity of ``query`` and ``match``.

    ``contribution_i = q_i m_i / (|q| |m|)``; the column sums to ``cosine(query, match)``.

    Returns
    -------
    pandas.DataFrame
        One row per feature: ``feature``, ``group``, ``compartment``, ``channel``,
        ``family``, ``query z`` and ``match z`` (the profiles' values: robust z-scores
        against the controls) and ``contribution``.
    """
    query = np.asarray(query, dtype=np.float64)
    match = np.asarray(match, dtype=np.float64)
    if query.shape != match.shape or query.size != len(feature_columns):
        raise ValueError(
            f"profiles of {query.size} and {match.size} values for {len(feature_columns)} features"
        )
    cosine(query, match)  # all-zero profiles fail here, named
    groups = [feature_group(name) for name in feature_columns]
    return pd.DataFrame(
        {
            "feature": list(feature_columns),
            "group": [group_label(*group) for group in groups],
            "compartment": [group[0] for group in groups],
            "channel": [group[1] for group in groups],
            "family": [group[2] for group in groups],
            "query z": query,
            "match z": match,
            "contribution": query * match / (np.linalg.norm(query) * np.linalg.norm(match)),
        }
    )


def direction(values: np.ndarray) -> str:
    """How a group of z-scores differs from the controls: up, down, changed or "".

    "changed" is a group whose features move apart (e.g. texture contrast up, homogeneity
    down): large on average but without one sign.
    """
    values = np.asarray(values, dtype=np.float64)
    mean, rms = float(values.mean()), float(np.sqrt(np.mean(values**2)))
    if rms < CHANGE_THRESHOLD:
        return ""
    if abs(mean) >= 0.5 * rms:
        return "up" if mean > 0 else "down"
    return "changed"


def group_contributions(features: pd.DataFrame) -> pd.DataFrame:
    """Sum ``feature_contributions`` over feature groups, largest |contribution| first.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group``, ``compartment``, ``channel``, ``family``,
        ``n features``, ``contribution`` (sums to the similarity), ``query z`` and
        ``match z`` (mean z-score of the group's features), ``query rms`` and
        ``match rms`` (their root-mean-square: the size of a "changed" group), ``query share`` and
        ``match share`` (the group's part of each profile's squared length: what makes
        that side differ from the controls; each sums to 1) and ``query`` / ``match``
        (``direction`` words).
    """
    grouped = features.groupby("group", sort=False)
    squared = features[["query z", "match z"]] ** 2
    shares = squared.groupby(features["group"], sort=False).sum() / squared.sum()
    table = pd.DataFrame(
        {
            "compartment": grouped["compartment"].first(),
            "channel": grouped["channel"].first(),
            "family": grouped["family"].first(),
            "n features": grouped.size(),
            "contribution": grouped["contribution"].sum(),
            "query z": grouped["query z"].mean(),
            "match z": grouped["match z"].mean(),
            "query rms": grouped["query z"].apply(lambda z: float(np.sqrt(np.mean(z**2)))),
            "match rms": grouped["match z"].apply(lambda z: float(np.sqrt(np.mean(z**2)))),
            "query share": shares["query z"],
            "match share": shares["match z"],
            "query": grouped["query z"].apply(lambda z: direction(z.to_numpy())),
            "match": grouped["match z"].apply(lambda z: direction(z.to_numpy())),
        }
    )
    order = np.argsort(-table["contribution"].abs().to_numpy(), kind="stable")
    return table.iloc[order].rename_axis("group").reset_index()


def describe_groups(groups: pd.DataFrame, n: int = 4) -> str:
    """One readable line from the top groups, e.g. "Nuclei DNA intensity up in both; ..."."""
    phrases = []
    for _, row in groups.head(n).iterrows():
        query, match = row["query"] or "unchanged", row["match"] or "unchanged"
        both = f"{query} in both" if query == match else f"{query} vs {match}"
        phrases.append(f"{row['group']} {both} ({row['contribution']:+.2f})")
    return "; ".join(phrases)

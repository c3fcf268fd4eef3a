"""Attribution: every feature's and feature group's exact share of a cosine similarity."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_similarity
from test_explain import FEATURES

from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.similarity.attribution import (
    direction,
    feature_contributions,
    feature_group,
    group_contributions,
)


def test_feature_contributions_sum_to_the_cosine_similarity() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        query, match = rng.normal(size=(2, len(FEATURES)))
        table = feature_contributions(query, match, FEATURES)
        expected = cosine_similarity(query[None], match[None])[0, 0]
        assert table["contribution"].sum() == pytest.approx(expected, abs=1e-12)
        groups = group_contributions(table)
        assert groups["contribution"].sum() == pytest.approx(expected, abs=1e-12)
        assert groups["n features"].sum() == len(FEATURES)
        assert groups["query share"].sum() == pytest.approx(1.0)
        assert groups["match share"].sum() == pytest.approx(1.0)
        # largest |contribution| first
        magnitudes = groups["contribution"].abs().to_numpy()
        assert (np.diff(magnitudes) <= 1e-15).all()


def test_a_group_contribution_is_the_cosine_restricted_to_its_features() -> None:
    rng = np.random.default_rng(4)
    query, match = rng.normal(size=(2, len(FEATURES)))
    groups = group_contributions(feature_contributions(query, match, FEATURES)).set_index("group")
    members = [f.startswith("Nuclei_Intensity") for f in FEATURES]
    own = query[members] @ match[members] / (np.linalg.norm(query) * np.linalg.norm(match))
    assert groups.loc["Nuclei DNA intensity", "contribution"] == pytest.approx(own)
    assert groups.loc["Nuclei DNA intensity", "n features"] == 2
    assert groups.loc["Nuclei DNA intensity", "query z"] == pytest.approx(np.mean(query[members]))


def test_feature_groups_follow_the_cellprofiler_names() -> None:
    assert feature_group("Cells_Texture_Contrast_RNA_3") == ("Cells", "RNA", "texture")
    assert feature_group("Cells_Granularity_1_ER") == ("Cells", "ER", "granularity")
    assert feature_group("Cells_RadialDistribution_FracAtD_Mito_1of4") == (
        "Cells",
        "Mito",
        "radial distribution",
    )
    assert feature_group("Nuclei_Intensity_MeanIntensity_OrigDNA") == ("Nuclei", "DNA", "intensity")
    assert feature_group("Cells_ViT_0017") == ("", "", "Cells_ViT")


def test_direction_words() -> None:
    assert direction(np.array([2.0, 3.0])) == "up"
    assert direction(np.array([-2.0, -1.5])) == "down"
    assert direction(np.array([3.0, -3.0])) == "changed"
    assert direction(np.array([0.2, -0.3])) == ""


def test_all_zero_profile_is_a_one_line_error() -> None:
    with pytest.raises(ProfileTableError, match="all zeros"):
        feature_contributions(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), FEATURES)

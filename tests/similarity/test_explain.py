"""Why a match: rank, null, replicate consistency, the default contrast and bad states.

Oracles: scikit-learn's cosine similarity, the Similar perturbations ranking
(``rank_perturbations``) and direct recomputation; never numbers from a previous run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics.pairwise import cosine_similarity

from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CONTROL_TYPE,
    GENE,
    MODALITY,
    NEGATIVE_CONTROL,
    PERT_INAME,
    PLATE,
    TARGET_LIST,
    WELL,
)
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.similarity.attribution import (
    describe_groups,
)
from napari_phenoscope.similarity.explain import (
    default_contrast,
    explain_match,
    find_perturbation,
    null_p_value,
    perturbation_query_of,
    replicate_consistency,
    similarity_null,
)
from napari_phenoscope.similarity.rank import (
    RANK,
    SIMILARITY,
    perturbation_ids,
    perturbation_query,
    rank_perturbations,
    reference_profiles,
)

FEATURES = [
    "Nuclei_Intensity_MeanIntensity_DNA",
    "Nuclei_Intensity_IntegratedIntensity_DNA",
    "Nuclei_AreaShape_Area",
    "Nuclei_AreaShape_Eccentricity",
    "Cells_AreaShape_Area",
    "Cells_Intensity_MeanIntensity_AGP",
    "Cells_Texture_Contrast_RNA_3",
    "Cells_Texture_Entropy_RNA_3",
    "Cells_Correlation_Correlation_ER_Mito",
    "Cytoplasm_Intensity_MeanIntensity_Mito",
    "Cells_Granularity_1_ER",
    "Cells_RadialDistribution_FracAtD_Mito_1of4",
]
# The demo's stories in feature space: mitotic arrest = bright DNA, small round nuclei and
# cells, brighter AGP; BRD4 loss = dim DNA, large nuclei.
PHENOTYPES = {
    "mitotic": {
        "Nuclei_Intensity_MeanIntensity_DNA": 4.0,
        "Nuclei_Intensity_IntegratedIntensity_DNA": 2.0,
        "Nuclei_AreaShape_Area": -3.0,
        "Nuclei_AreaShape_Eccentricity": -1.5,
        "Cells_AreaShape_Area": -2.5,
        "Cells_Intensity_MeanIntensity_AGP": 1.5,
    },
    "bromo": {
        "Nuclei_Intensity_MeanIntensity_DNA": -3.0,
        "Nuclei_Intensity_IntegratedIntensity_DNA": -1.0,
        "Nuclei_AreaShape_Area": 3.0,
        "Cells_Texture_Contrast_RNA_3": -2.0,
    },
    "other": {"Cells_Granularity_1_ER": 3.0, "Cells_Correlation_Correlation_ER_Mito": -2.0},
    "none": {},
}
# (modality, plate, sample, pert_iname, gene, target_list, control_type, phenotype, wells)
DESIGN = [
    ("compound", "P-CMPD", "BRD-K64890080", "BI-2536", "", "BRD4|PLK1", "", "mitotic", 4),
    ("compound", "P-CMPD", "BRD-K13094524", "PFI-1", "", "BRD4", "", "bromo", 3),
    ("compound", "P-CMPD", "BRD-A0001", "aspirin", "", "PTGS1", "", "other", 3),
    ("compound", "P-CMPD", "", "DMSO", "", "", NEGATIVE_CONTROL, "none", 6),
    ("crispr", "P-CRISPR", "BRDN0001", "", "PLK1", "", "", "mitotic", 3),
    ("crispr", "P-CRISPR", "BRDN0002", "", "PLK1", "", "", "mitotic", 3),
    ("crispr", "P-CRISPR", "BRDN0003", "", "BRD4", "", "", "bromo", 3),
    ("crispr", "P-CRISPR", "BRDN0004", "", "SOLO", "", "", "other", 1),
    ("crispr", "P-CRISPR", "BRDN0000", "", "non-targeting", "", NEGATIVE_CONTROL, "none", 6),
    ("orf", "P-ORF", "ccsb_1", "", "PLK1", "", "", "other", 3),
]


def make_profiles(seed: int = 0, noise: float = 0.4) -> pd.DataFrame:
    """Well profiles in robust z-scores: phenotype + seeded noise, controls pure noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for modality, plate, sample, iname, gene, targets, control, phenotype, n_wells in DESIGN:
        effect = np.array([PHENOTYPES[phenotype].get(f, 0.0) for f in FEATURES])
        for index in range(n_wells):
            well = f"{'ABCDEFGH'[len(rows) % 8]}{len(rows) // 8 + 1:02d}"
            values = effect * rng.uniform(0.8, 1.2) + rng.normal(0, noise, len(FEATURES))
            meta = {
                PLATE: plate,
                WELL: well,
                MODALITY: modality,
                BROAD_SAMPLE: sample,
                PERT_INAME: iname,
                GENE: gene,
                TARGET_LIST: targets,
                CONTROL_TYPE: control,
            }
            rows.append({**meta, **dict(zip(FEATURES, values, strict=True))})
            del index
    return pd.DataFrame(rows)


@pytest.fixture
def profiles() -> pd.DataFrame:
    return make_profiles()


def explain(profiles: pd.DataFrame, query: str, match: str, **kwargs):
    name, wells = find_perturbation(profiles, match)
    return explain_match(
        perturbation_query_of(profiles, query, FEATURES), wells, profiles, FEATURES, name, **kwargs
    )


# --- the match explained, against the Similar perturbations ranking ---------------------------


def test_similarity_and_rank_are_those_of_the_ranking(profiles: pd.DataFrame) -> None:
    query = perturbation_query(profiles, "BI-2536", FEATURES, "compound")
    ranking = rank_perturbations(query, reference_profiles(profiles, FEATURES, query.exclude_wells))
    ids = perturbation_ids(profiles)
    for _, row in ranking.iterrows():
        wells = profiles[ids == row.name]
        result = explain_match(query, wells, profiles, FEATURES, row["perturbation"], null_size=50)
        assert result.similarity == pytest.approx(row[SIMILARITY], abs=1e-6)
        assert result.features["contribution"].sum() == pytest.approx(result.similarity)
        assert result.rank == row[RANK]
        assert result.n_ranked == len(ranking)


def test_bi2536_vs_plk1_is_the_mitotic_signature_and_vs_brd4_is_far(
    profiles: pd.DataFrame,
) -> None:
    plk1 = explain(profiles, "BI-2536", "crispr:PLK1", seed=1)
    brd4 = explain(profiles, "BI-2536", "crispr:BRD4", seed=1)
    assert plk1.match_name == "PLK1 (crispr)"
    assert len(plk1.match_wells) == 6  # both guides
    assert plk1.rank == 1 and plk1.p_value < 0.01
    assert brd4.similarity < 0 and brd4.p_value > 0.5
    top = plk1.groups.iloc[0]
    assert top["group"] == "Nuclei DNA intensity"
    assert (top["query"], top["match"]) == ("up", "up")
    assert "Nuclei DNA intensity up in both" in describe_groups(plk1.groups)
    # BRD4: the DNA intensity moves the other way, and is what pushes the two apart
    groups = brd4.groups.set_index("group")
    assert groups.loc["Nuclei DNA intensity", "contribution"] < 0
    assert (groups.loc["Nuclei DNA intensity", ["query", "match"]] == ["up", "down"]).all()


def test_null_is_random_well_sets_of_the_match_size(profiles: pd.DataFrame) -> None:
    rng = np.random.default_rng(5)
    candidates = rng.normal(size=(30, len(FEATURES)))
    query = rng.normal(size=len(FEATURES))
    null = similarity_null(query, candidates, 3, n_samples=40, seed=9)
    again = similarity_null(query, candidates, 3, n_samples=40, seed=9)
    np.testing.assert_array_equal(null, again)
    draws = np.random.default_rng(9)
    for value in null[:5]:
        picked = candidates[draws.choice(30, 3, replace=False)]
        expected = cosine_similarity(query[None], np.median(picked, axis=0)[None])[0, 0]
        assert value == pytest.approx(expected)
    assert null_p_value(10.0, null) == pytest.approx(1 / 41)
    assert null_p_value(-10.0, null) == pytest.approx(1.0)
    with pytest.raises(ProfileTableError, match="random sets of 31 wells"):
        similarity_null(query, candidates, 31)


def test_null_leaves_out_controls_and_the_query(profiles: pd.DataFrame) -> None:
    result = explain(profiles, "BI-2536", "crispr:BRD4", null_size=200)
    candidates = profiles[
        (profiles[CONTROL_TYPE] != NEGATIVE_CONTROL) & (profiles[PERT_INAME] != "BI-2536")
    ]
    expected = similarity_null(
        result.query_vector, candidates[FEATURES].to_numpy(), 3, n_samples=200, seed=0
    )
    np.testing.assert_allclose(result.null, expected, atol=1e-6)  # float32 profiles


def test_replicate_consistency_per_well(profiles: pd.DataFrame) -> None:
    result = explain(profiles, "BI-2536", "crispr:PLK1", null_size=20)
    table = result.replicates
    assert (table["side"] == "query").sum() == 4 and (table["side"] == "match").sum() == 6
    first = table[table["side"] == "query"].iloc[0]
    wells = result.query_wells[FEATURES].to_numpy()
    rest = np.median(wells[1:], axis=0)
    assert first["to own replicates"] == pytest.approx(
        cosine_similarity(wells[:1], rest[None])[0, 0]
    )
    assert first["to the other side"] == pytest.approx(
        cosine_similarity(wells[:1], result.match_vector[None])[0, 0]
    )
    assert (table["to own replicates"] > 0.8).all()  # strong phenotypes replicate


def test_a_perturbation_with_one_well_has_no_replicate_consistency(
    profiles: pd.DataFrame,
) -> None:
    result = explain(profiles, "aspirin", "SOLO", null_size=50)
    match = result.replicates[result.replicates["side"] == "match"]
    assert len(match) == 1 and np.isnan(match["to own replicates"]).all()
    assert np.isfinite(match["to the other side"]).all()
    assert np.isnan(result.summary()["match replicate consistency"])
    assert result.summary()["match wells"] == 1
    # and as a query: its only well is left out of the reference, the rest still works
    solo = explain(profiles, "SOLO", "aspirin", null_size=50)
    assert solo.rank == 1 and np.isnan(solo.summary()["query replicate consistency"])


def test_replicate_consistency_of_single_wells_directly() -> None:
    wells = make_profiles().iloc[:1]
    sides = {"query": wells, "match": wells}
    vectors = {side: wells[FEATURES].to_numpy()[0] for side in sides}
    table = replicate_consistency(sides, vectors, FEATURES)
    assert table["to own replicates"].isna().all()
    assert table["to the other side"].to_numpy() == pytest.approx([1.0, 1.0])


# --- naming perturbations, and what cannot be explained ---------------------------------------


def test_find_perturbation_by_name_modality_or_sample(profiles: pd.DataFrame) -> None:
    assert find_perturbation(profiles, "BI-2536")[0] == "BI-2536 (compound)"
    assert len(find_perturbation(profiles, "PLK1 · crispr")[1]) == 6
    assert len(find_perturbation(profiles, "crispr:PLK1")[1]) == 6
    name, wells = find_perturbation(profiles, "BRDN0002")
    assert name == "PLK1 (crispr)" and len(wells) == 3
    with pytest.raises(ProfileTableError, match="write crispr:PLK1 or orf:PLK1"):
        find_perturbation(profiles, "PLK1")
    with pytest.raises(ProfileTableError, match="no well profile of perturbation 'KRAS'"):
        find_perturbation(profiles, "KRAS")


def test_a_match_inside_the_query_is_refused(profiles: pd.DataFrame) -> None:
    with pytest.raises(ProfileTableError, match="no well outside the query"):
        explain(profiles, "BI-2536", "BI-2536")


# --- the contrast -------------------------------------------------------------------------


def test_the_default_contrast_is_the_other_target_then_the_nearest_non_target(
    profiles: pd.DataFrame,
) -> None:
    query = perturbation_query_of(profiles, "BI-2536", FEATURES)
    _, plk1 = find_perturbation(profiles, "crispr:PLK1")
    assert default_contrast(profiles, query, plk1, FEATURES) == "crispr:BRD4"
    _, brd4 = find_perturbation(profiles, "crispr:BRD4")
    assert default_contrast(profiles, query, brd4, FEATURES) == "crispr:PLK1"
    # no other target: the best-ranked perturbation that is not a target, in the modality
    pfi = perturbation_query_of(profiles, "PFI-1", FEATURES)  # targets BRD4 only
    nearest = default_contrast(profiles, pfi, brd4, FEATURES)
    ranking = rank_perturbations(pfi, reference_profiles(profiles, FEATURES, pfi.exclude_wells))
    crispr = ranking[(ranking[MODALITY] == "crispr") & ~ranking["is target"]]
    crispr = crispr[~crispr["perturbation"].isin(["non-targeting"])]
    assert nearest == f"crispr:{crispr.iloc[0]['perturbation']}"
    assert nearest not in ("crispr:BRD4", "crispr:non-targeting")

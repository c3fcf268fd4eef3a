# Long (~410 lines): one MatchExplanation (attribution, rank, null, replicates, default
# contrast) and finding its query; attribution.py and explain_cells.py hold the parts.
"""Why a match: what makes a query's profile similar to one of its matches, and how sure.

The Similar perturbations ranking says *that* BI-2536 lies next to the PLK1 knockout; this
module says *why* and *how sure*, from the well profiles alone (the cells, images and ViT
side of the comparison are in ``explain_cells``):

- What: every feature's and every feature group's exact share of the cosine similarity,
  and how each side differs from the controls (``attribution``).
- How sure: the match's rank among every perturbation, its similarity against a null of
  random well sets of the same size, and the replicate consistency of both sides.

No Qt, no napari, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from napari_phenoscope.constants import (
    CONTROL_TYPE,
    MODALITY,
    NEGATIVE_CONTROL,
    PLATE,
    WELL,
)
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.io.profiles import feature_matrix
from napari_phenoscope.similarity.attribution import (
    cosine,
    feature_contributions,
    group_contributions,
)
from napari_phenoscope.similarity.rank import (
    PERTURBATION,
    TARGET,
    Query,
    perturbation_ids,
    perturbation_names,
    rank_perturbations,
    reference_profiles,
    target_genes,
)

NULL_SIZE = 1000
SIDES = ("query", "match")


def similarity_null(
    query: np.ndarray,
    candidates: np.ndarray,
    set_size: int,
    n_samples: int = NULL_SIZE,
    seed: int = 0,
) -> np.ndarray:
    """Similarities of the query to the median profiles of random sets of wells.

    The null of "a random perturbation with as many wells as the match": ``n_samples``
    sets of ``set_size`` distinct rows of ``candidates`` (seeded), each reduced to its
    median profile like a consensus, compared with the query by cosine.

    Parameters
    ----------
    query
        (F,) query profile.
    candidates
        (N, F) well profiles to draw from (the query's own wells and controls left out).
    set_size
        Wells per random set, at most N.
    n_samples
        Size of the null.
    seed
        Seed of the draws.

    Returns
    -------
    numpy.ndarray
        (n_samples,) cosine similarities (NaN for an all-zero set median).
    """
    candidates = np.asarray(candidates, dtype=np.float64)
    if not 1 <= set_size <= len(candidates):
        raise ProfileTableError(
            f"cannot draw random sets of {set_size} wells from {len(candidates)} wells"
        )
    rng = np.random.default_rng(seed)
    picks = np.stack(
        [rng.choice(len(candidates), set_size, replace=False) for _ in range(n_samples)]
    )
    medians = np.median(candidates[picks], axis=1)
    query = np.asarray(query, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return medians @ query / (np.linalg.norm(medians, axis=1) * np.linalg.norm(query))


def null_p_value(observed: float, null: np.ndarray) -> float:
    """One-sided permutation p-value ``(1 + #(null >= observed)) / (1 + n)``."""
    null = np.asarray(null)[np.isfinite(null)]
    return float((1 + np.count_nonzero(null >= observed)) / (1 + null.size))


def replicate_consistency(
    sides: dict[str, pd.DataFrame], vectors: dict[str, np.ndarray], feature_columns: Sequence[str]
) -> pd.DataFrame:
    """Per-well similarities of both sides: to their own replicates and to the other side.

    Parameters
    ----------
    sides
        ``{"query": wells, "match": wells}``: each side's well profiles.
    vectors
        Each side's profile (what the similarity compares).

    Returns
    -------
    pandas.DataFrame
        One row per well: ``side``, plate, well, ``to own replicates`` (cosine to the
        median of the side's other wells; NaN for a side with one well) and ``to the other
        side`` (cosine to the other side's profile).
    """
    rows = []
    for side, other in (SIDES, SIDES[::-1]):
        wells = sides[side]
        values = feature_matrix(wells, feature_columns).astype(np.float64)
        for position, (plate, well) in enumerate(zip(wells[PLATE], wells[WELL], strict=True)):
            rest = np.delete(values, position, axis=0)
            own = cosine(values[position], np.median(rest, axis=0)) if len(rest) else np.nan
            rows.append(
                {
                    "side": side,
                    PLATE: str(plate),
                    WELL: str(well),
                    "to own replicates": own,
                    "to the other side": cosine(values[position], vectors[other]),
                }
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class MatchExplanation:
    """Why a query matches one perturbation, in one feature set.

    Attributes
    ----------
    query_name, match_name
        Readable names, e.g. ``"BI-2536 (4 wells)"``, ``"PLK1 (crispr, 4 wells)"``.
    feature_set
        ``"vit"``, ``"classical"`` or another name of the profiles compared.
    similarity
        Cosine similarity of the query profile and the match's consensus (median) profile.
    rank, n_ranked
        The match's place among every perturbation's consensus (1 = most similar).
    null
        Similarities of the query to random well sets of the match's size.
    p_value
        Share of the null at or above ``similarity`` (``null_p_value``).
    features, groups
        ``feature_contributions`` and ``group_contributions``.
    replicates
        ``replicate_consistency`` of both sides.
    query_wells, match_wells
        The well profiles of each side (metadata and features).
    query_vector, match_vector
        The two compared profiles.
    """

    query_name: str
    match_name: str
    feature_set: str
    similarity: float
    rank: int
    n_ranked: int
    null: np.ndarray
    p_value: float
    features: pd.DataFrame
    groups: pd.DataFrame
    replicates: pd.DataFrame
    query_wells: pd.DataFrame
    match_wells: pd.DataFrame
    query_vector: np.ndarray
    match_vector: np.ndarray

    def summary(self) -> dict[str, object]:
        """The headline numbers, one flat record (a row of the summary CSV)."""
        null = self.null[np.isfinite(self.null)]
        own = self.replicates.groupby("side")["to own replicates"].median()
        return {
            "query": self.query_name,
            "match": self.match_name,
            "feature set": self.feature_set,
            "similarity": self.similarity,
            "rank": self.rank,
            "n ranked": self.n_ranked,
            "null mean": float(null.mean()) if null.size else np.nan,
            "null 95th percentile": float(np.percentile(null, 95)) if null.size else np.nan,
            "p value": self.p_value,
            "query replicate consistency": float(own.get("query", np.nan)),
            "match replicate consistency": float(own.get("match", np.nan)),
            "query wells": len(self.query_wells),
            "match wells": len(self.match_wells),
        }


def find_perturbation(well_profiles: pd.DataFrame, spec: str) -> tuple[str, pd.DataFrame]:
    """The wells of a perturbation given by name, ``modality:name`` or broad sample id.

    ``"BI-2536"``, ``"crispr:PLK1"`` (every PLK1 guide), ``"PLK1 · crispr"`` (the Similar
    dock's spelling) and ``"BRDN0001145303"`` (one guide) are all understood.

    Returns
    -------
    name : str
        E.g. ``"PLK1 (crispr)"``.
    wells : pandas.DataFrame
        Its rows of ``well_profiles``.

    Raises
    ------
    ProfileTableError
        If nothing matches, or a name matches several modalities and none was given.
    """
    name, modality = spec.strip(), ""
    if " · " in name:
        name, _, modality = name.partition(" · ")
    elif ":" in name and name.split(":", 1)[0] in set(well_profiles.get(MODALITY, [])):
        modality, _, name = name.partition(":")
    names = perturbation_names(well_profiles)
    ids = perturbation_ids(well_profiles)
    samples = ids.str.partition(":")[2]
    mask = (names == name) | (samples == name) | (ids == name)
    if modality:
        mask &= well_profiles[MODALITY].astype(str) == modality
    wells = well_profiles[mask]
    if wells.empty:
        where = f" in modality {modality}" if modality else ""
        raise ProfileTableError(f"no well profile of perturbation {name!r}{where}")
    modalities = sorted(set(wells[MODALITY].astype(str))) if MODALITY in wells else [""]
    if len(modalities) > 1:
        options = " or ".join(f"{m}:{name}" for m in modalities)
        raise ProfileTableError(f"{name!r} is in several modalities: write {options}")
    label = perturbation_names(wells.iloc[:1]).iloc[0]
    return (f"{label} ({modalities[0]})" if modalities[0] else label), wells


def perturbation_query_of(
    well_profiles: pd.DataFrame, spec: str, feature_columns: Sequence[str]
) -> Query:
    """The query of a perturbation named as ``find_perturbation`` reads it: its median profile.

    Its wells are left out of the ranking, as ``similarity.perturbation_query`` does.
    """
    name, wells = find_perturbation(well_profiles, spec)
    return Query(
        description=f"{name}, {len(wells)} wells",
        vector=np.median(feature_matrix(wells, feature_columns).astype(np.float64), axis=0),
        perturbation=str(perturbation_ids(wells.iloc[:1]).iloc[0]),
        targets=target_genes(wells.iloc[0]),
        exclude_wells=tuple(zip(wells[PLATE].astype(str), wells[WELL].astype(str), strict=True)),
    )


def _query_wells(well_profiles: pd.DataFrame, query: Query) -> pd.DataFrame:
    """The wells of the query's side: its own wells and those of its perturbation."""
    keys = set(query.exclude_wells)
    own = [
        (str(plate), str(well)) in keys
        for plate, well in zip(well_profiles[PLATE], well_profiles[WELL], strict=True)
    ]
    same = perturbation_ids(well_profiles).to_numpy() == query.perturbation
    return well_profiles[np.asarray(own, bool) | same].reset_index(drop=True)


def explain_match(
    query: Query,
    match_wells: pd.DataFrame,
    well_profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    match_name: str,
    feature_set: str = "",
    null_size: int = NULL_SIZE,
    seed: int = 0,
) -> MatchExplanation:
    """Explain why ``query`` matches the perturbation whose wells are ``match_wells``.

    Parameters
    ----------
    query
        A ``similarity`` query (a cell, a well or a perturbation); its ``exclude_wells``
        are left out of everything else, as in the ranking.
    match_wells
        The match's rows of ``well_profiles`` (one ranking row, or every guide of a gene).
    well_profiles
        Every well profile (the ranking's reference).
    feature_columns
        The compared features.
    match_name
        Readable name of the match.
    feature_set
        Name of the feature set, for the record.
    null_size, seed
        Random well sets in the null, and their seed.

    Raises
    ------
    ProfileTableError
        If the match has no well outside the query, a profile is all zeros, or there are
        too few other wells for the null.
    """
    reference = reference_profiles(well_profiles, feature_columns, query.exclude_wells)
    match_ids = set(perturbation_ids(match_wells))
    in_match = np.isin(reference.well_ids, list(match_ids))
    if not in_match.any():
        raise ProfileTableError(f"{match_name} has no well outside the query's wells")
    columns = list(feature_columns)
    match_table = reference.wells[in_match].reset_index(drop=True)
    match_vector = np.median(feature_matrix(match_table, columns).astype(np.float64), axis=0)
    query_vector = np.asarray(query.vector, dtype=np.float64)
    similarity = cosine(query_vector, match_vector)

    others = reference.consensus[~reference.consensus.index.isin(match_ids)]
    other_matrix = feature_matrix(others, columns).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        others_similarity = (other_matrix @ query_vector) / (
            np.linalg.norm(other_matrix, axis=1) * np.linalg.norm(query_vector)
        )
    rank = 1 + int(np.count_nonzero(others_similarity > similarity))

    controls = (
        reference.wells[CONTROL_TYPE].astype(str).to_numpy() == NEGATIVE_CONTROL
        if CONTROL_TYPE in reference.wells
        else np.zeros(len(reference.wells), bool)
    )
    candidates = feature_matrix(reference.wells[~controls], columns)
    null = similarity_null(query_vector, candidates, len(match_table), null_size, seed)

    query_table = _query_wells(well_profiles, query)
    sides = {"query": query_table, "match": match_table}
    vectors = {"query": query_vector, "match": match_vector}
    features = feature_contributions(query_vector, match_vector, columns)
    return MatchExplanation(
        query_name=query.description,
        match_name=match_name,
        feature_set=feature_set,
        similarity=similarity,
        rank=rank,
        n_ranked=len(others) + 1,
        null=null,
        p_value=null_p_value(similarity, null),
        features=features,
        groups=group_contributions(features),
        replicates=replicate_consistency(sides, vectors, columns),
        query_wells=query_table,
        match_wells=match_table,
        query_vector=query_vector,
        match_vector=match_vector,
    )


def default_contrast(
    well_profiles: pd.DataFrame,
    query: Query,
    match_wells: pd.DataFrame,
    feature_columns: Sequence[str],
) -> str | None:
    """What to set a match against: the query's other annotated target, else the nearest other.

    For BI-2536 (targets PLK1 and BRD4) matched with the PLK1 knockout, the contrast is the
    BRD4 knockout: its other target, in the match's modality where it has one. A query
    without another target is set against the best-ranked perturbation that is neither
    the match, a negative control nor one of the query's targets, again preferring the
    match's modality.

    Returns
    -------
    str or None
        ``"modality:name"`` as ``find_perturbation`` reads it; None when nothing is left.
    """
    match_ids = set(perturbation_ids(match_wells))
    match_genes = {gene for row in match_wells.to_dict("records") for gene in target_genes(row)}
    modality = str(match_wells[MODALITY].iloc[0]) if MODALITY in match_wells else ""
    reference = reference_profiles(well_profiles, feature_columns, query.exclude_wells)
    ranking = rank_perturbations(query, reference)
    controls = set()
    if CONTROL_TYPE in well_profiles:
        negcon = well_profiles[well_profiles[CONTROL_TYPE].astype(str) == NEGATIVE_CONTROL]
        controls = set(perturbation_ids(negcon))
    ids = ranking.index.to_series()
    ranking = ranking[~ids.isin(match_ids | controls).to_numpy() & ~ranking["is query"].to_numpy()]
    if ranking.empty:
        return None
    genes = {pid: set(str(t).split(", ")) for pid, t in reference.consensus[TARGET].items()}
    others = [gene for gene in query.targets if gene not in match_genes]
    same_modality = ranking[MODALITY].astype(str) == modality if MODALITY in ranking else None
    for candidates in (
        *(ranking[[gene in genes.get(pid, ()) for pid in ranking.index]] for gene in others),
        ranking[~ranking["is target"].to_numpy()],
    ):
        if candidates.empty:
            continue
        if same_modality is not None and same_modality[candidates.index].any():
            candidates = candidates[same_modality[candidates.index]]
        best = candidates.iloc[0]
        prefix = str(best[MODALITY]) if MODALITY in candidates else ""
        return f"{prefix}:{best[PERTURBATION]}" if prefix else str(best[PERTURBATION])
    return None

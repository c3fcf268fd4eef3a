# Long (~460 lines): the ranking and its three queries (a cell, a well, a perturbation) share the
# consensus profiles and the negative-control normalisation that put all of them in one space.
"""Which perturbations look alike: cosine rankings of a cell, a well or a perturbation.

A query (one cell's features, one well profile, or a perturbation's consensus profile) is
compared with the consensus profile of every perturbation on the loaded plates, across
modalities (compound, CRISPR, ORF), and the result is one ranked row per perturbation. Cells
are normalized against the negative-control cells of their plate, as well profiles are
against the negative-control wells, so a cell and a well profile live in the same space.

No Qt and no napari: the Similar perturbations dock shows what these functions return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CONTROL_TYPE,
    GENE,
    LABEL,
    MODALITY,
    NEGATIVE_CONTROL,
    PERT_INAME,
    PLATE,
    RANK,
    SIMILARITY,
    SITE,
    TARGET_LIST,
    WELL,
    is_metadata_column,
)
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.evaluation.precision import rank_by_similarity
from napari_phenoscope.io.annotations import Annotations, find_annotations, row_values
from napari_phenoscope.io.profiles import feature_matrix
from napari_phenoscope.profiling.processing import aggregate, normalise

#: Columns of a ranking table, in display order.
PERTURBATION = "perturbation"
IDENTIFIER = "identifier"
TARGET = "target/gene"
MOA = "MoA"
N_WELLS = "n wells"
BEST_PLATE = "best plate"
BEST_WELL = "best well"
RANKING_COLUMNS = (
    RANK,
    PERTURBATION,
    IDENTIFIER,
    MODALITY,
    SIMILARITY,
    TARGET,
    MOA,
    N_WELLS,
    BEST_PLATE,
    BEST_WELL,
)
#: Flags of a ranking row: the perturbation *is* one of the query's target genes (its
#: knock-out or ORF), shares a target with the query, or shares its mechanism of action.
IS_TARGET, SAME_TARGET, SAME_MOA = "is target", "same target", "same MoA"
_DEFAULT_TARGETS = (TARGET_LIST, "Metadata_target", GENE)


@dataclass(frozen=True)
class Query:
    """What a ranking was asked for: a label for the user, its vector and what to leave out.

    Attributes
    ----------
    description
        E.g. ``"cell 12 of BR00116991 A01 site 1 (BI-2536)"``.
    vector
        The query profile, in the feature order of the well profiles.
    perturbation
        The query's own perturbation (``Metadata_broad_sample`` or name), if known.
    targets
        Genes the query is known to hit (a compound's target list, a CRISPR/ORF gene).
    exclude_wells
        (plate, well) keys left out of the consensus profiles (the query well itself).
    moas
        The query's mechanisms of action, when its table annotates them.
    """

    description: str
    vector: np.ndarray
    perturbation: str = ""
    targets: tuple[str, ...] = ()
    exclude_wells: tuple[tuple[str, str], ...] = ()
    moas: tuple[str, ...] = ()


def perturbation_names(table: pd.DataFrame) -> pd.Series:
    """A readable name per row: the compound's ``pert_iname``, else the gene, else the sample."""
    names = pd.Series("", index=table.index, dtype=object)
    for column in (BROAD_SAMPLE, GENE, PERT_INAME):  # later columns win where they are set
        if column in table.columns:
            values = table[column].fillna("").astype(str)
            names = names.where(values.isin(["", "nan"]), values)
    if (names == "").any():
        fallback = table[PLATE].astype(str) + " " + table[WELL].astype(str)
        names = names.where(names != "", fallback)
    return names


def perturbation_ids(table: pd.DataFrame) -> pd.Series:
    """An id per row that tells perturbations apart: modality + sample (two guides differ)."""
    modality = table[MODALITY].fillna("").astype(str) if MODALITY in table.columns else ""
    sample = (
        table[BROAD_SAMPLE].fillna("").astype(str)
        if BROAD_SAMPLE in table.columns
        else pd.Series("", index=table.index)
    )
    names = perturbation_names(table)
    return modality + ":" + sample.where(~sample.isin(["", "nan"]), names)


def target_genes(
    row: pd.Series | dict, columns: Sequence[str] = _DEFAULT_TARGETS
) -> tuple[str, ...]:
    """Genes of one row: a compound's target list (JUMP's ``Metadata_target_list``,
    LINCS's ``Metadata_target``) or the CRISPR/ORF gene; ``columns`` chooses others."""
    return row_values(row, columns)


def consensus_profiles(
    well_profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    annotations: Annotations | None = None,
) -> pd.DataFrame:
    """One median profile per perturbation (pycytominer ``consensus``, median operation).

    ``annotations`` (found in the table when None) say which columns give the identifier,
    the targets and the MoA; the ones the table lacks are left out, not left empty.

    Returns
    -------
    pandas.DataFrame
        Indexed by perturbation id; ``perturbation``, then those of ``identifier``,
        ``Metadata_modality``, ``target/gene`` and ``MoA`` the table has, ``n wells`` and
        the feature columns.
    """
    table = well_profiles.reset_index(drop=True)
    annotations = annotations if annotations is not None else find_annotations(table)
    ids = perturbation_ids(table).to_numpy()
    grouped = table.groupby(ids, sort=False)  # by an array: no copy of a wide table
    features = grouped[list(feature_columns)].median()
    first_rows = grouped.head(1)
    first = first_rows.set_axis(ids[first_rows.index])
    names = perturbation_names(first).to_numpy()
    meta = {PERTURBATION: names}
    if annotations.identifier:
        identifiers = first[annotations.identifier].fillna("").astype(str).to_numpy()
        if (identifiers != names).any():  # an identifier that only repeats the name is noise
            meta[IDENTIFIER] = identifiers
    if MODALITY in first:
        meta[MODALITY] = first[MODALITY].fillna("").astype(str).to_numpy()
    if annotations.targets:
        meta[TARGET] = [
            ", ".join(target_genes(row, annotations.targets)) for _, row in first.iterrows()
        ]
    if annotations.moa:
        meta[MOA] = [", ".join(row_values(row, [annotations.moa])) for _, row in first.iterrows()]
    meta[N_WELLS] = grouped.size().reindex(first.index).to_numpy()
    return pd.concat([pd.DataFrame(meta, index=first.index), features.loc[first.index]], axis=1)


@dataclass(frozen=True)
class ReferenceProfiles:
    """Well profiles prepared once for many queries (a click must not regroup 1000 wells).

    Attributes
    ----------
    feature_columns
        The compared features.
    wells
        The well profiles kept (``Metadata_*`` + features), indexed 0..n-1.
    well_ids
        Perturbation id of each row of ``wells``.
    consensus
        One row per perturbation, indexed by its id: ``perturbation``, its annotations
        (``consensus_profiles``), ``n wells`` and the median features.
    excluded
        The (plate, well) keys left out (a well query leaves itself out).
    """

    feature_columns: tuple[str, ...]
    wells: pd.DataFrame
    well_ids: np.ndarray
    consensus: pd.DataFrame
    excluded: frozenset[tuple[str, str]] = frozenset()


def reference_profiles(
    well_profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    exclude_wells: Sequence[tuple[str, str]] = (),
    annotations: Annotations | None = None,
) -> ReferenceProfiles:
    """Prepare the well profiles (minus ``exclude_wells``) for :func:`rank_perturbations`;
    ``annotations`` as in :func:`consensus_profiles`.

    Raises
    ------
    ProfileTableError
        If no well is left, or a feature is missing or not finite.
    """
    excluded = frozenset((str(p), str(w)) for p, w in exclude_wells)
    keys = zip(well_profiles[PLATE].astype(str), well_profiles[WELL].astype(str), strict=True)
    table = well_profiles[[key not in excluded for key in keys]] if excluded else well_profiles
    if table.empty:
        raise ProfileTableError("no well profiles left to compare with the query")
    feature_matrix(table, feature_columns)  # missing or non-finite features fail here, named
    table = table.reset_index(drop=True)
    return ReferenceProfiles(
        feature_columns=tuple(feature_columns),
        wells=table,
        well_ids=perturbation_ids(table).to_numpy(),
        consensus=consensus_profiles(table, feature_columns, annotations),
        excluded=excluded,
    )


def rank_perturbations(query: Query, reference: ReferenceProfiles) -> pd.DataFrame:
    """Rank every perturbation by the cosine similarity of its consensus profile to the query.

    The cosine ranking itself is ``metrics.rank_by_similarity`` (float32, stable ties).

    Parameters
    ----------
    query
        The query vector (features in the order of ``reference.feature_columns``).
    reference
        The well profiles, prepared without the query's ``exclude_wells``
        (``reference_profiles``).

    Returns
    -------
    pandas.DataFrame
        Those of ``RANKING_COLUMNS`` the reference has, plus ``is target`` (the
        perturbation is one of the query's target genes: its knock-out or ORF), ``same
        target`` (another perturbation sharing a target with the query), ``same MoA`` and
        ``is query``, sorted by similarity (rank 1 = most similar). The best well is the
        replicate well most similar to the query (what a click opens).

    Raises
    ------
    ValueError
        If ``reference`` was not prepared without the query's own wells.
    """
    if reference.excluded != frozenset(query.exclude_wells):
        raise ValueError("reference profiles were prepared for other excluded wells")
    features = list(reference.feature_columns)
    ranked = rank_by_similarity(query.vector, reference.consensus, features)
    columns = [c for c in RANKING_COLUMNS if c in reference.consensus.columns]
    ranking = reference.consensus.loc[ranked.index, columns].copy()
    ranking[SIMILARITY] = ranked[SIMILARITY].to_numpy(dtype=np.float64)
    # the best well of a perturbation is its first well in the ranking of all wells
    ranked_wells = rank_by_similarity(query.vector, reference.wells, features).index
    first = pd.Series(ranked_wells, index=reference.well_ids[ranked_wells])
    best = first[~first.index.duplicated()].reindex(ranking.index).to_numpy()
    ranking[BEST_PLATE] = reference.wells[PLATE].astype(str).to_numpy()[best]
    ranking[BEST_WELL] = reference.wells[WELL].astype(str).to_numpy()[best]
    targets, moas = set(query.targets), set(query.moas)
    genes = ranking[TARGET] if TARGET in ranking else pd.Series("", index=ranking.index)
    shares_target = np.array([bool(targets & set(t.split(", "))) for t in genes], dtype=bool)
    is_query = ranking.index == query.perturbation
    ranking[IS_TARGET] = ranking[PERTURBATION].isin(targets).to_numpy() & ~is_query
    ranking[SAME_TARGET] = shares_target & ~ranking[IS_TARGET].to_numpy() & ~is_query
    ranking[SAME_MOA] = (
        np.array([bool(moas & set(m.split(", "))) for m in ranking[MOA]], dtype=bool) & ~is_query
        if MOA in ranking
        else False
    )
    ranking["is query"] = is_query
    ranking.insert(0, RANK, np.arange(1, len(ranking) + 1))
    return ranking


def cell_normaliser(
    cells: pd.DataFrame, feature_columns: Sequence[str], plate: str
) -> tuple[np.ndarray, np.ndarray]:
    """How to put a cell of ``plate`` in the space of its well profiles: (center, scale).

    The pipeline robust-MAD normalizes each well's median profile to the medians of its
    plate's negative-control wells (``processing.normalise``, ``samples="negcon"``). This
    fits that same normalization once, on those wells computed from ``cells``, and returns
    it as ``(x - center) / scale``, so that a click costs one subtraction and one division.

    Raises
    ------
    ProfileTableError
        If the plate has no ``Metadata_control_type == "negcon"`` cells.
    """
    if CONTROL_TYPE not in cells.columns:
        raise ProfileTableError(f"cell table has no column {CONTROL_TYPE} to find negcon cells")
    rows = cells[(cells[PLATE].astype(str) == plate) & (cells[CONTROL_TYPE] == NEGATIVE_CONTROL)]
    if rows.empty:
        raise ProfileTableError(
            f"plate {plate} has no negative controls ({CONTROL_TYPE} == {NEGATIVE_CONTROL})"
            " profiled yet: cannot normalize its cells"
        )
    features = list(feature_columns)
    feature_matrix(rows, features)  # missing or non-finite features fail here, named
    wells = aggregate(rows[[PLATE, WELL, *features]], (PLATE, WELL), "median")
    wells.insert(2, CONTROL_TYPE, NEGATIVE_CONTROL)
    # two probe rows, 0 and 1, are normalized with the wells (they are not controls, so
    # they do not change the fit): an affine map is known from two points
    probes = pd.DataFrame([np.zeros(len(features)), np.ones(len(features))], columns=features)
    probes.insert(0, CONTROL_TYPE, "probe")
    table = pd.concat([wells.drop(columns=[PLATE, WELL]), probes], ignore_index=True)
    zero, one = normalise(table, samples="negcon", by=None)[features].to_numpy()[-2:]
    scale = 1.0 / (one - zero)
    return -zero * scale, scale


def find_cell(cells: pd.DataFrame, key: tuple[str, str, int, int]) -> pd.Series:
    """The row of ``cells`` with the (plate, well, site, label) ``key``.

    Raises
    ------
    ProfileTableError
        If that cell is not in the table.
    """
    plate, well, site, label = key
    rows = cells[
        (cells[PLATE].astype(str) == plate)
        & (cells[WELL].astype(str) == well)
        & (cells[SITE].astype(int) == int(site))
        & (cells[LABEL].astype(int) == int(label))
    ]
    if rows.empty:
        raise ProfileTableError(f"cell {label} of {plate} {well} site {site} is not profiled")
    return rows.iloc[0]


def cell_query(
    cell: pd.Series,
    feature_columns: Sequence[str],
    normalizer: tuple[np.ndarray, np.ndarray],
    annotations: Annotations | None = None,
) -> Query:
    """The query of one cell: its features normalized as the well profiles were.

    Parameters
    ----------
    cell
        The cell's row of the single-cell table (``find_cell``).
    feature_columns
        The features of the well profiles it is compared with.
    normalizer
        ``cell_normaliser`` of its plate, computed once per plate rather than per click.
    annotations
        The table's target and MoA columns (found in the cell's row when None).
    """
    center, scale = normalizer
    vector = (cell[list(feature_columns)].to_numpy(dtype=np.float64) - center) / scale
    if not np.isfinite(vector).all():
        raise ProfileTableError(f"cell {int(cell[LABEL])} has NaN or infinite features")
    frame = cell[[c for c in cell.index if is_metadata_column(c)]].to_frame().T
    name = perturbation_names(frame).iloc[0]
    where = f"{cell[PLATE]} {cell[WELL]} site {int(cell[SITE])}"
    return Query(
        description=f"cell {int(cell[LABEL])} of {where} ({name})",
        vector=vector,
        perturbation=str(perturbation_ids(frame).iloc[0]),
        **_targets_and_moas(cell, annotations),
    )


def well_query(
    well_profiles: pd.DataFrame,
    plate: str,
    well: str,
    feature_columns: Sequence[str],
    annotations: Annotations | None = None,
) -> Query:
    """The query of one well: its profile; the well itself is left out of the consensus.
    ``annotations`` as in :func:`cell_query`."""
    rows = well_profiles[
        (well_profiles[PLATE].astype(str) == plate) & (well_profiles[WELL].astype(str) == well)
    ]
    if rows.empty:
        raise ProfileTableError(f"well {plate} {well} has no profile")
    name = perturbation_names(rows.iloc[:1]).iloc[0]
    return Query(
        description=f"well {plate} {well} ({name})",
        vector=feature_matrix(rows.iloc[:1], feature_columns)[0],
        perturbation=str(perturbation_ids(rows.iloc[:1]).iloc[0]),
        exclude_wells=((plate, well),),
        **_targets_and_moas(rows.iloc[0], annotations),
    )


def perturbation_query(
    well_profiles: pd.DataFrame,
    name: str,
    feature_columns: Sequence[str],
    modality: str | None = None,
    annotations: Annotations | None = None,
) -> Query:
    """The query of a perturbation (by name, and modality if given): its consensus profile.

    Its own wells are left out of the ranking, so that the top rows are other perturbations.
    ``annotations`` as in :func:`cell_query`.
    """
    mask = perturbation_names(well_profiles) == name
    if modality:
        mask &= well_profiles[MODALITY] == modality
    rows = well_profiles[mask]
    if rows.empty:
        where = f" ({modality})" if modality else ""
        raise ProfileTableError(f"no well profile of perturbation {name}{where}")
    vector = np.median(feature_matrix(rows, feature_columns), axis=0)
    wells = tuple(zip(rows[PLATE].astype(str), rows[WELL].astype(str), strict=True))
    return Query(
        description=f"{name} ({len(rows)} wells)",
        vector=vector,
        perturbation=str(perturbation_ids(rows.iloc[:1]).iloc[0]),
        exclude_wells=wells,
        **_targets_and_moas(rows.iloc[0], annotations),
    )


def _targets_and_moas(row: pd.Series, annotations: Annotations | None) -> dict:
    """The ``targets`` and ``moas`` of a query from its table row."""
    found = annotations if annotations is not None else find_annotations(row.to_frame().T)
    return {
        "targets": target_genes(row, found.targets or _DEFAULT_TARGETS),
        "moas": row_values(row, [found.moa]) if found.moa else (),
    }


def representative_cells(
    well_cells: pd.DataFrame, feature_columns: Sequence[str], n: int = 3
) -> pd.DataFrame:
    """The ``n`` cells of a well closest (Euclidean) to the well's median cell profile.

    Parameters
    ----------
    well_cells
        The single cells of one well (any number of rows, possibly none).
    feature_columns
        Features to compare.
    n
        How many cells to return (fewer if the well has fewer).
    """
    if well_cells.empty:
        return well_cells
    values = feature_matrix(well_cells, feature_columns)
    distance = np.linalg.norm(values - np.median(values, axis=0), axis=1)
    return well_cells.iloc[np.argsort(distance, kind="stable")[:n]]

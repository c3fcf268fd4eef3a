"""The main job on the demo plates: render -> profile -> mAP -> the BI-2536 verdict.

``phenoscope demo`` runs it; headless it writes its outputs and prints a summary, with a
display it then opens napari with the plugin's docks on the BI-2536 well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from napari_phenoscope.constants import (
    CONTROL_TYPE,
    GENE,
    MODALITY,
    NEGATIVE_CONTROL,
    PERT_INAME,
    RANK,
    SIMILARITY,
)
from napari_phenoscope.demo.project import ensure_demo_plates
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.evaluation.precision import rank_by_similarity
from napari_phenoscope.evaluation.tasks import evaluate
from napari_phenoscope.io.profiles import feature_columns, read_profiles, write_profiles
from napari_phenoscope.profiling.pipeline import profile_plates

#: Demo seed of the quick start. The bundled encoder was trained on other demo plates
#: (docs/model_card.md), so these plates are held out from its training.
QUICKSTART_SEED = 0
QUERY = "BI-2536"
QUERY_GENES = ("PLK1", "BRD4")
TASKS = ("replicate", "compound-gene")
DEFAULT_NULL_SIZE = 2000
#: Fields per well of the demo job's plates: one site (384 fields, about 13,000 cells) keeps
#: the job within minutes on two cores and still ranks PLK1 first for BI-2536 with both
#: feature sets (docs/scale.md); the other demo parameters are ``ensure_demo_plates``'.
JOB_SITES = 1


@dataclass(frozen=True)
class DemoRunSummary:
    """What the demo job produced.

    Attributes
    ----------
    project
        The rendered demo project (images, metadata).
    out_dir
        Where profiles, the mAP summary and the BI-2536 ranking were written.
    n_cells, n_wells
        Cells profiled and well profiles made.
    retrieval
        One row per feature set, task and stratum: mAP and fraction retrieved.
    query_ranks
        Rank of PLK1 and BRD4 knockout among CRISPR genes for the BI-2536 query, per
        feature set.
    """

    project: Path
    out_dir: Path
    n_cells: int
    n_wells: int
    retrieval: pd.DataFrame
    query_ranks: pd.DataFrame


def gene_ranks(
    well_profiles: pd.DataFrame,
    query: str = QUERY,
    genes: Sequence[str] = QUERY_GENES,
    reference_modality: str = "crispr",
) -> pd.DataFrame:
    """Rank of each gene among the ``reference_modality`` genes for a compound query.

    The query is the compound's consensus (median over its wells, all replicate plates);
    each gene's profile is the median over all its guides' (or ORFs') wells. Negative
    controls are not candidates. Ranking is by cosine similarity
    (``metrics.rank_by_similarity``).

    Returns
    -------
    pandas.DataFrame
        ``gene``, ``rank`` (1 = most similar gene; None if the gene is absent),
        ``n_genes``, ``similarity``.

    Raises
    ------
    ProfileTableError
        If no well holds ``query``.
    """
    features = feature_columns(well_profiles)
    compound = well_profiles[well_profiles[PERT_INAME] == query]
    if compound.empty:
        raise ProfileTableError(f"no well profile of {query} ({PERT_INAME})")
    reference = well_profiles[
        (well_profiles[MODALITY] == reference_modality)
        & (well_profiles[CONTROL_TYPE] != NEGATIVE_CONTROL)
        & (well_profiles[GENE].astype(str) != "")
    ]
    consensus = reference.groupby(GENE)[features].median().reset_index()
    ranked = rank_by_similarity(compound[features].median().to_numpy(), consensus, features)
    by_gene = ranked.set_index(GENE)
    return pd.DataFrame(
        {
            "gene": list(genes),
            "rank": [int(by_gene.loc[g, RANK]) if g in by_gene.index else None for g in genes],
            "n_genes": len(consensus),
            "similarity": [
                float(by_gene.loc[g, SIMILARITY]) if g in by_gene.index else None for g in genes
            ],
        }
    )


def run_demo(
    out_dir: str | Path,
    features: Sequence[str] = ("vit", "classical"),
    seed: int = QUICKSTART_SEED,
    null_size: int = DEFAULT_NULL_SIZE,
    progress: bool = True,
    workers: int | None = None,
    scheduler: str | None = None,
) -> DemoRunSummary:
    """Render the demo plates (cached; ``JOB_SITES`` per well), profile them, measure retrieval.

    Parameters
    ----------
    out_dir
        Output folder: ``profiles/`` (the pipeline's outputs, resumable), ``retrieval.csv``
        and ``bi2536_ranks.csv``.
    features
        Feature sets to compare.
    seed
        Demo plate seed.
    null_size
        Permutation null size for the mAP p-values.
    progress
        Show progress bars.
    workers, scheduler
        Profile on a local Dask cluster of ``workers`` processes or on a running
        scheduler (``pipeline.profile_plates``); in this process if neither.
    """
    out_dir = Path(out_dir)
    project = ensure_demo_plates(seed=seed, n_sites=JOB_SITES, progress=progress)
    outputs = profile_plates(
        [project],
        out_dir / "profiles",
        features=features,
        progress=progress,
        workers=workers,
        scheduler=scheduler,
        # the demo plates are clean and the published demo numbers were measured without
        # QC; QC's effect on clean and defective plates is benchmarks/bench_qc.py's
        qc="off",
    )
    summaries, ranks = [], []
    n_wells = 0
    for feature_set, path in outputs.well_profiles.items():
        well_profiles = read_profiles(path)
        n_wells = len(well_profiles)
        for task in TASKS:
            result = evaluate(well_profiles, task, null_size=null_size, seed=seed)
            summaries.append(result.summary.assign(features=feature_set))
        ranks.append(gene_ranks(well_profiles).assign(features=feature_set))
    retrieval = pd.concat(summaries, ignore_index=True)
    query_ranks = pd.concat(ranks, ignore_index=True)
    write_profiles(retrieval, out_dir / "retrieval.csv")
    write_profiles(query_ranks, out_dir / "bi2536_ranks.csv")
    return DemoRunSummary(project, out_dir, outputs.n_cells, n_wells, retrieval, query_ranks)


def format_demo_summary(summary: DemoRunSummary) -> str:
    """The printed summary: what was run, mAP per feature set, and the BI-2536 verdict."""
    retrieval = summary.retrieval.copy()
    columns = [
        c
        for c in (
            "features",
            "task",
            MODALITY,
            "reference",
            "mean_average_precision",
            "fraction_retrieved",
        )
        if c in retrieval.columns
    ]
    # replicate rows have no reference modality: show a blank, not NaN
    table = retrieval[columns].fillna("").rename(columns=lambda c: c.removeprefix("Metadata_"))
    ranks = summary.query_ranks.pivot(index="features", columns="gene", values="rank")
    lines = [
        f"demo project: {summary.project}",
        f"outputs:      {summary.out_dir}",
        f"{summary.n_cells} cells profiled, {summary.n_wells} well profiles",
        "",
        "retrieval (mAP, fraction retrieved at BH q < 0.05):",
        table.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
        "",
        f"{QUERY} (annotated BRD4|PLK1|PLK2|PLK3): rank among CRISPR knockouts "
        f"(1 = most similar of {int(summary.query_ranks['n_genes'].iloc[0])} genes):",
        ranks.to_string(),
    ]
    return "\n".join(lines)

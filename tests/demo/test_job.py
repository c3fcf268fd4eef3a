"""The demo job's summary pieces: gene ranks for a compound query, the printed summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CONTROL_TYPE,
    GENE,
    MODALITY,
    PERT_INAME,
    PLATE,
    TARGET_LIST,
    WELL,
)
from napari_phenoscope.demo.job import DemoRunSummary, format_demo_summary, gene_ranks


def synthetic_wells(seed: int = 0) -> pd.DataFrame:
    """Two replicate wells per perturbation; BI-2536's profile is PLK1's plus noise."""
    rng = np.random.default_rng(seed)
    genes = ["PLK1", "BRD4", "TUBB", "KIF11", "AKT1", "MTOR"]
    effects = {gene: rng.normal(size=16) for gene in genes}
    rows = []
    for replicate in (1, 2):
        for index, gene in enumerate(genes):
            rows.append(
                {
                    PLATE: f"crispr{replicate}",
                    WELL: f"A{index + 1:02d}",
                    BROAD_SAMPLE: f"guide-{gene}",
                    MODALITY: "crispr",
                    GENE: gene,
                    PERT_INAME: "",
                    TARGET_LIST: "",
                    CONTROL_TYPE: "",
                    **{f"f{i}": v for i, v in enumerate(effects[gene] + 0.1 * rng.normal(size=16))},
                }
            )
        rows.append(
            {
                PLATE: f"compound{replicate}",
                WELL: "E21",
                BROAD_SAMPLE: "BRD-K64890080-001-02-1",
                MODALITY: "compound",
                GENE: "",
                PERT_INAME: "BI-2536",
                TARGET_LIST: "BRD4|PLK1|PLK2|PLK3",
                CONTROL_TYPE: "poscon_diverse",
                **{f"f{i}": v for i, v in enumerate(effects["PLK1"] + 0.3 * rng.normal(size=16))},
            }
        )
    return pd.DataFrame(rows)


def test_gene_ranks_put_the_true_mechanism_first():
    ranks = gene_ranks(synthetic_wells())
    by_gene = ranks.set_index("gene")
    assert by_gene.loc["PLK1", "rank"] == 1
    assert by_gene.loc["BRD4", "rank"] > 1
    assert (ranks["n_genes"] == 6).all()
    assert by_gene.loc["PLK1", "similarity"] > by_gene.loc["BRD4", "similarity"]


def test_summary_names_the_verdict_and_the_scores(tmp_path: Path):
    ranks = pd.concat(
        [gene_ranks(synthetic_wells()).assign(features=f) for f in ("vit", "classical")]
    )
    retrieval = pd.DataFrame(
        {
            "features": ["vit", "classical"],
            "task": ["compound-gene", "compound-gene"],
            MODALITY: ["compound", "compound"],
            "reference": ["crispr", "crispr"],
            "mean_average_precision": [0.61, 0.42],
            "fraction_retrieved": [0.5, 0.25],
        }
    )
    text = format_demo_summary(DemoRunSummary(tmp_path, tmp_path, 100, 12, retrieval, ranks))
    assert "100 cells profiled, 12 well profiles" in text
    assert "0.610" in text and "0.420" in text
    assert "BI-2536" in text and "PLK1" in text and "BRD4" in text

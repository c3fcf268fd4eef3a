"""CPJUMP1 task presets against copairs run with the documented pair rules, and the CLI."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from napari_phenoscope.cli import main
from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CELL_LINE,
    CONTROL_TYPE,
    GENE,
    MODALITY,
    PERT_TYPE,
    PLATE,
    TARGET_LIST,
    WELL,
)
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.evaluation import tasks
from napari_phenoscope.io.profiles import write_profiles

copairs_map = pytest.importorskip("copairs.map")
from copairs.map import multilabel as copairs_multilabel  # noqa: E402

GENES = [f"G{i}" for i in range(8)]
COMPOUND_TARGETS = ["G0", "G0|G1", "G1", "G2", "G2|G3", "G3", "G4", "G5|G6", "G6", "G7", "G0", "G5"]
N_FEATURES = 12


def synthetic_profiles(seed: int = 0, signal: float = 1.0, cell_types=("A549", "U2OS")):
    """A CPJUMP1-shaped well-level table: 3 replicate plates per modality and cell type,
    8 negcon wells per plate; compounds carry their targets' signatures."""
    rng = np.random.default_rng(seed)
    signature = {gene: rng.normal(size=N_FEATURES) for gene in GENES}
    designs = {
        "compound": [(f"BRD-C{i:02d}", "", t) for i, t in enumerate(COMPOUND_TARGETS)],
        "crispr": [(f"BRDN-{g}-{k}", g, "") for g in GENES for k in (1, 2)],
        "orf": [(f"ccsb-{g}", g, "") for g in GENES],
    }
    rows, feats = [], []
    for cell in cell_types:
        for modality, perturbations in designs.items():
            for plate in range(3):
                barcode = f"{cell}-{modality}-{plate}"
                for k in range(8):
                    rows.append((barcode, f"N{k:02d}", "", modality, "", "", "control", "negcon"))
                    feats.append(rng.normal(size=N_FEATURES))
                for k, (sample, gene, targets) in enumerate(perturbations):
                    rows.append((barcode, f"W{k:02d}", sample, modality, gene, targets, "trt", ""))
                    effect = np.mean([signature[g] for g in (gene or targets).split("|")], axis=0)
                    feats.append(signal * 2 * effect + rng.normal(size=N_FEATURES))
    columns = [PLATE, WELL, BROAD_SAMPLE, MODALITY, GENE, TARGET_LIST, PERT_TYPE, CONTROL_TYPE]
    meta = pd.DataFrame(rows, columns=columns)
    meta[CELL_LINE] = meta[PLATE].str.split("-").str[0]
    features = pd.DataFrame(np.array(feats), columns=[f"feature_{i}" for i in range(N_FEATURES)])
    return pd.concat([meta, features], axis=1)


@pytest.fixture(scope="module")
def profiles() -> pd.DataFrame:
    return synthetic_profiles()


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def feature_matrix(table: pd.DataFrame) -> np.ndarray:
    return table[[c for c in table.columns if c.startswith("feature_")]].to_numpy()


def copairs_replicate(table: pd.DataFrame, null_size: int, tmp_path) -> pd.DataFrame:
    """The replicate rules of docs/retrieval.md, run with copairs itself."""
    table = table.reset_index(drop=True)
    meta = table[[PLATE, BROAD_SAMPLE, CONTROL_TYPE]].copy()
    negcon = meta[CONTROL_TYPE] == "negcon"
    meta["ref"] = np.where(negcon, np.arange(len(meta)), -1)
    ap = copairs_map.average_precision(
        meta, feature_matrix(table), [BROAD_SAMPLE, "ref"], [], [PLATE], ["ref"], progress_bar=False
    )
    ap = ap[~negcon.to_numpy() & (ap["n_pos_pairs"] > 0).to_numpy()]
    return copairs_map.mean_average_precision(
        ap, [BROAD_SAMPLE], null_size, 0.05, 0, progress_bar=False, cache_dir=tmp_path
    )


def consensus(table: pd.DataFrame) -> pd.DataFrame:
    """Median per perturbation with pandas (the oracle for the consensus step)."""
    features = [c for c in table.columns if c.startswith("feature_")]
    meta = table.groupby(BROAD_SAMPLE, sort=False)[[MODALITY, GENE, TARGET_LIST]].first()
    return meta.join(table.groupby(BROAD_SAMPLE, sort=False)[features].median()).reset_index()


def test_replicate_equals_copairs_per_modality_and_cell_type(profiles, tmp_path):
    result = tasks.evaluate(profiles, "replicate", null_size=300, seed=0)
    assert len(result.summary) == 6  # 3 modalities x 2 cell types
    for (modality, cell), table in profiles.groupby([MODALITY, CELL_LINE]):
        expected = copairs_replicate(table, 300, tmp_path / f"{modality}{cell}")
        ours = result.per_group[
            (result.per_group[MODALITY] == modality) & (result.per_group[CELL_LINE] == cell)
        ]
        assert list(ours[BROAD_SAMPLE]) == list(expected[BROAD_SAMPLE])
        for column in ("mean_average_precision", "p_value", "corrected_p_value"):
            np.testing.assert_allclose(ours[column], expected[column], atol=1e-9, rtol=0)
    # negative controls are never queries; every query has its group's p-value
    assert (result.per_query[CONTROL_TYPE] != "negcon").all()
    assert result.per_query["corrected_p_value"].notna().all()


def test_compound_gene_equals_copairs_multilabel_on_consensus_profiles(profiles):
    result = tasks.evaluate(profiles, "compound-gene", null_size=200, seed=1)
    cell = profiles[profiles[CELL_LINE] == "A549"]
    treated = cell[cell[CONTROL_TYPE] != "negcon"]
    compounds = consensus(treated[treated[MODALITY] == "compound"])
    genes = consensus(treated[treated[MODALITY] == "orf"])
    both = pd.concat([compounds, genes], ignore_index=True)
    labels = [
        t.split("|") if t else [g] for t, g in zip(both[TARGET_LIST], both[GENE], strict=True)
    ]
    meta = both[[BROAD_SAMPLE, MODALITY]].assign(labels=labels)
    expected = copairs_multilabel.average_precision(
        meta,
        feature_matrix(both),
        ["labels"],
        [MODALITY],
        [],
        ["labels", MODALITY],
        multilabel_col="labels",
        progress_bar=False,
    )
    expected = expected[expected[MODALITY] == "compound"].reset_index(drop=True)
    ours = result.per_query[
        (result.per_query[CELL_LINE] == "A549") & (result.per_query[tasks.REFERENCE] == "orf")
    ].reset_index(drop=True)
    assert list(ours[BROAD_SAMPLE]) == list(expected[BROAD_SAMPLE])
    assert list(ours[tasks.MATCHED_LABEL]) == list(expected["labels"])
    np.testing.assert_allclose(ours["average_precision"], expected["average_precision"], atol=1e-9)
    assert set(result.summary[tasks.REFERENCE]) == {"crispr", "orf"}


def test_crispr_orf_and_sister_find_the_planted_matches(profiles):
    for task in ("crispr-orf", "sister"):
        result = tasks.evaluate(profiles, task, null_size=500, seed=0)
        assert (result.summary["mean_average_precision"] > 0.5).all(), task
        assert len(result.per_query) > 0
    crispr_orf = tasks.evaluate(profiles, "crispr-orf", null_size=500, seed=0)
    assert (crispr_orf.per_query[MODALITY] == "crispr").all()
    assert set(crispr_orf.per_group[GENE]) == set(GENES)


def test_fraction_retrieved_tracks_the_signal():
    strong = tasks.evaluate(synthetic_profiles(signal=1.5, cell_types=("A549",)), "replicate", 500)
    noise = tasks.evaluate(synthetic_profiles(signal=0.0, cell_types=("A549",)), "replicate", 500)
    assert (strong.summary["fraction_retrieved"] > 0.8).all()
    assert (noise.summary["fraction_retrieved"] < 0.2).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns=PLATE), "missing required column 'Metadata_Plate'"),
        (lambda t: t.assign(**{CONTROL_TYPE: ""}), "no negative controls"),
        (lambda t: t.assign(feature_3="x"), "feature column 'feature_3' is not numeric"),
        (lambda t: t.assign(feature_2=np.nan), "feature column 'feature_2' has NaN"),
    ],
)
def test_bad_tables_raise_one_line_errors(profiles, change, message):
    with pytest.raises(ProfileTableError, match=message):
        tasks.evaluate(change(profiles), "replicate", null_size=50)


def test_cli_evaluate_prints_summary_and_writes_per_query_table(profiles, tmp_path, capsys):
    path = write_profiles(profiles, tmp_path / "wells.csv.gz")
    out = tmp_path / "per_query.csv"
    code = main(
        ["evaluate", str(path), "--task", "replicate", "--null-size", "200", "--out", str(out)]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "fraction_retrieved" in printed and "crispr" in printed
    written = pd.read_csv(out)
    assert {"average_precision", "corrected_p_value", BROAD_SAMPLE} <= set(written.columns)
    assert len(written) > 0 and f"per-query table ({len(written)} rows)" in printed
    assert "null distributions: copairs' permutations" in printed  # small: copairs' nulls
    assert set(written["null_method"]) == {"copairs"}
    main(["evaluate", str(path), "--task", "replicate", "--null-size", "200", "--null", "sampled"])
    assert "null distributions: positives' ranks sampled" in capsys.readouterr().out


def test_cli_bad_input_is_one_line_and_exit_code_2(profiles, tmp_path, capsys):
    path = write_profiles(profiles.drop(columns=BROAD_SAMPLE), tmp_path / "wells.parquet")
    code = main(["evaluate", str(path), "--task", "sister"])
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert error.count("\n") == 0 and "Metadata_broad_sample" in error

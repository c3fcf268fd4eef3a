"""copairs' vocabulary on real CellProfiler profiles: our numbers against copairs itself."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from _real_tables import real_single_cells, robust_z
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.evaluation.rules import (
    PairRules,
    evaluate_rules,
    parse_columns,
    parse_reference,
)
from napari_phenoscope.io.profile_tables import profile_table

copairs_map = pytest.importorskip("copairs.map")
copairs_matching = pytest.importorskip("copairs.matching")
from copairs.map import multilabel as copairs_multilabel  # noqa: E402

PLATE, WELL = "Metadata_Plate", "Metadata_Well"
NULL_SIZE = 500


@pytest.fixture(scope="module")
def all_real_features(real_profiles):
    """234 real cells (3 wells, 2 plates), 5,464 robust z-scored CellProfiler features."""
    return profile_table(robust_z(real_single_cells(real_profiles)), "real cells")


@pytest.fixture(scope="module")
def real_cells(all_real_features):
    """The same cells with every 10th feature: copairs takes 20 s a call on all of them."""
    table = all_real_features
    return profile_table(
        pd.concat(
            [
                table.metadata,
                pd.DataFrame(table.features[:, ::10], columns=table.feature_names[::10]),
            ],
            axis=1,
        ),
        "real cells",
    )


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def copairs_result(meta, feats, rules, map_by, tmp_path, multilabel=None):
    """copairs' AP (one row per query with a positive) and mAP for the same rules."""
    if multilabel:
        ap = copairs_multilabel.average_precision(
            meta, feats, *rules, multilabel_col=multilabel, progress_bar=False
        )
    else:
        ap = copairs_map.average_precision(meta, feats, *rules, progress_bar=False)
    ap = ap[ap["average_precision"].notna()].reset_index(drop=True)
    groups = copairs_map.mean_average_precision(
        ap, map_by, NULL_SIZE, 0.05, 0, progress_bar=False, cache_dir=tmp_path / "cache"
    )
    return ap, groups


def assert_same_numbers(ours, theirs_ap, theirs_map, map_by):
    for column in ("n_pos_pairs", "n_total_pairs"):
        np.testing.assert_array_equal(ours.per_query[column], theirs_ap[column])
    np.testing.assert_allclose(
        ours.per_query["average_precision"], theirs_ap["average_precision"], atol=1e-9, rtol=0
    )
    groups = ours.per_group
    assert groups[map_by].astype(str).values.tolist() == (
        theirs_map[map_by].astype(str).values.tolist()
    )
    for column in ("mean_average_precision", "p_value", "corrected_p_value"):
        np.testing.assert_allclose(groups[column], theirs_map[column], atol=1e-9, rtol=0)
    assert (groups["below_corrected_p"].to_numpy() == theirs_map["below_corrected_p"]).all()


RULES = [
    # replicate cells of a well against cells of other wells
    PairRules(pos_sameby=(PLATE, WELL), neg_diffby=(WELL,)),
    # the same well on two plates: positives must come from another plate
    PairRules(pos_sameby=(WELL,), pos_diffby=(PLATE,), neg_diffby=(WELL,)),
    # negatives within the plate only (BR00116991 has one well: its cells have none)
    PairRules(pos_sameby=(PLATE, WELL), neg_sameby=(PLATE,), neg_diffby=(WELL,)),
]


@pytest.mark.parametrize("rules", RULES, ids=["well", "well-across-plates", "within-plate"])
def test_rules_equal_copairs_on_real_cells(real_cells, rules, tmp_path):
    resolved = rules.resolved()
    args = [list(r) for r in (rules.pos_sameby, rules.pos_diffby)]
    args += [list(r) for r in (resolved.neg_sameby, resolved.neg_diffby)]
    theirs_ap, theirs_map = copairs_result(
        real_cells.metadata, real_cells.features, args, list(resolved.map_by), tmp_path
    )
    ours = evaluate_rules(real_cells.metadata, real_cells.features, rules, NULL_SIZE, seed=0)
    assert_same_numbers(ours, theirs_ap, theirs_map, list(resolved.map_by))
    assert ours.summary["n_queries"] == len(theirs_ap)


@pytest.mark.slow
def test_all_5464_real_features_equal_copairs(all_real_features, tmp_path):
    rules = RULES[0]
    theirs_ap, theirs_map = copairs_result(
        all_real_features.metadata,
        all_real_features.features,
        [[PLATE, WELL], [], [], [WELL]],
        [PLATE, WELL],
        tmp_path,
    )
    ours = evaluate_rules(
        all_real_features.metadata, all_real_features.features, rules, NULL_SIZE, seed=0
    )
    assert_same_numbers(ours, theirs_ap, theirs_map, [PLATE, WELL])


def test_reference_equals_copairs_recipe(real_cells, tmp_path):
    # copairs' phenotypic-activity notebook: assign_reference_index, then the reference
    # index joins pos_sameby and neg_diffby, and reference rows are dropped from the queries
    meta = real_cells.metadata
    indexed = copairs_matching.assign_reference_index(
        meta, "Metadata_Well == 'A02'", reference_col="Metadata_ref", default_value=-1
    )
    theirs = copairs_map.average_precision(
        indexed,
        real_cells.features,
        [PLATE, WELL, "Metadata_ref"],
        [],
        [],
        [WELL, "Metadata_ref"],
        progress_bar=False,
    )
    theirs = theirs[(theirs[WELL] != "A02") & theirs["average_precision"].notna()]
    theirs_map = copairs_map.mean_average_precision(
        theirs.reset_index(drop=True),
        [PLATE, WELL, "Metadata_ref"],
        NULL_SIZE,
        0.05,
        0,
        progress_bar=False,
        cache_dir=tmp_path / "cache",
    )
    rules = PairRules(pos_sameby=(PLATE, WELL), reference=parse_reference("Metadata_Well=A02"))
    ours = evaluate_rules(meta, real_cells.features, rules, NULL_SIZE, seed=0)
    assert_same_numbers(ours, theirs.reset_index(drop=True), theirs_map, [PLATE, WELL])
    assert set(ours.per_query[WELL]) == {"A01"}  # the reference rows are no queries
    # every query's negatives are the 36 reference cells
    assert (ours.per_query["n_total_pairs"] - ours.per_query["n_pos_pairs"]).eq(36).all()


def test_multilabel_equals_copairs(real_cells, tmp_path):
    # a label list per cell: its well, plus "edge" for the wells of column 1
    meta = real_cells.metadata.copy()
    labels = [[well] + (["edge"] if well.endswith("01") else []) for well in meta[WELL]]
    ours_meta = meta.assign(Metadata_labels=["|".join(x) for x in labels])
    theirs_meta = meta.assign(Metadata_labels=labels)
    args = [["Metadata_labels"], [PLATE], [], ["Metadata_labels"]]
    theirs_ap, theirs_map = copairs_result(
        theirs_meta, real_cells.features, args, ["Metadata_labels"], tmp_path, "Metadata_labels"
    )
    rules = PairRules(pos_sameby=(), pos_diffby=(PLATE,), multilabel="Metadata_labels")
    ours = evaluate_rules(ours_meta, real_cells.features, rules, NULL_SIZE, seed=0)
    assert list(ours.per_query["Metadata_labels"]) == list(theirs_ap["Metadata_labels"])
    assert_same_numbers(ours, theirs_ap, theirs_map, ["Metadata_labels"])


def test_drop_missing_equals_copairs_on_the_rows_left(real_cells, tmp_path):
    meta = real_cells.metadata.copy()
    meta["Metadata_dose"] = np.where(np.arange(len(meta)) % 5 == 0, np.nan, 1.0)
    rules = PairRules(pos_sameby=(PLATE, WELL, "Metadata_dose"), neg_diffby=(WELL,))
    with pytest.raises(ProfileTableError, match="'Metadata_dose' is missing in 47 of 234 rows"):
        evaluate_rules(meta, real_cells.features, rules, NULL_SIZE)
    ours = evaluate_rules(meta, real_cells.features, rules, NULL_SIZE, drop_missing=True)
    keep = meta["Metadata_dose"].notna().to_numpy()
    theirs_ap, theirs_map = copairs_result(
        meta[keep].reset_index(drop=True),
        real_cells.features[keep],
        [[PLATE, WELL, "Metadata_dose"], [], [], [WELL]],
        [PLATE, WELL, "Metadata_dose"],
        tmp_path,
    )
    assert_same_numbers(ours, theirs_ap, theirs_map, [PLATE, WELL, "Metadata_dose"])
    assert ours.summary["dropped"] == 47


@pytest.mark.parametrize(
    ("change", "rules", "message"),
    [
        (
            {"Metadata_empty": np.nan},
            PairRules(pos_sameby=("Metadata_empty",)),
            "'Metadata_empty' has no value in any row",
        ),
        ({}, PairRules(pos_sameby=("Metadata_gene",)), "no metadata column 'Metadata_gene'"),
        (
            {},
            PairRules(pos_sameby=(WELL,), reference=("Metadata_Well", "B07")),
            "no row has Metadata_Well == 'B07'",
        ),
        ({}, PairRules(pos_sameby=(WELL,), pos_diffby=(WELL,)), "both --pos-sameby and"),
        ({}, PairRules(pos_sameby=()), "--pos-sameby or --pos-diffby"),
        ({}, PairRules(pos_sameby=("Metadata_Site",)), "no negative pairs"),
    ],
)
def test_bad_rules_end_in_one_line_naming_the_column(real_cells, change, rules, message):
    meta = real_cells.metadata.assign(**change)
    with pytest.raises(ProfileTableError, match=message) as error:
        evaluate_rules(meta, real_cells.features, rules, 100, source="cells.csv")
    assert "\n" not in str(error.value)


def test_reference_value_matches_numeric_metadata():
    meta = pd.DataFrame({"Metadata_dose": [0.0, 0.0, 1.0, 1.0, 3.0, 3.0]})
    feats = np.random.default_rng(0).normal(size=(6, 4))
    rules = PairRules(pos_sameby=("Metadata_dose",), reference=("Metadata_dose", "0"))
    result = evaluate_rules(meta, feats, rules, 100)
    assert sorted(result.per_group["Metadata_dose"]) == [1.0, 3.0]


def test_parse_helpers():
    assert parse_columns("Metadata_a, Metadata_b") == ("Metadata_a", "Metadata_b")
    assert parse_columns(["Metadata_a", "Metadata_b,Metadata_c"]) == (
        "Metadata_a",
        "Metadata_b",
        "Metadata_c",
    )
    assert parse_columns(None) == ()
    assert parse_reference("Metadata_control_type = negcon") == (
        "Metadata_control_type",
        "negcon",
    )
    with pytest.raises(ProfileTableError, match="COLUMN=VALUE"):
        parse_reference("negcon")


def test_cli_evaluate_with_rules_writes_the_per_query_table(real_cells, tmp_path, capsys):
    from napari_phenoscope.cli import main

    path = tmp_path / "cells.csv.gz"
    real_cells.frame().to_csv(path, index=False)
    out = tmp_path / "ap.csv"
    argv = ["evaluate", str(path), "--pos-sameby", f"{PLATE},{WELL}"]
    argv += ["--reference", "Metadata_Well=A02", "--null-size", "200", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    rules = PairRules(pos_sameby=(PLATE, WELL), reference=("Metadata_Well", "A02"))
    expected = evaluate_rules(real_cells.metadata, real_cells.features, rules, 200)
    assert f"{expected.summary['n_queries']} queries of 234 profiles, 2 groups" in printed
    assert "reference Metadata_Well=A02" in printed
    written = pd.read_csv(out)
    np.testing.assert_allclose(
        written["average_precision"], expected.per_query["average_precision"], atol=1e-12
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--pos-sameby", "Metadata_gene"], "no metadata column 'Metadata_gene'"),
        (["--task", "replicate", "--pos-sameby", WELL], "either --task or pair rules"),
        ([], "give --task or pair rules"),
        (["--pos-sameby", WELL, "--reference", "A02"], "expected COLUMN=VALUE"),
    ],
)
def test_cli_bad_rules_exit_2_with_one_line(real_cells, tmp_path, capsys, argv, message):
    from napari_phenoscope.cli import main

    path = tmp_path / "cells.parquet"
    real_cells.frame().to_parquet(path, index=False)
    assert main(["evaluate", str(path), *argv]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_reference_rows_may_lack_the_group_value(real_cells, tmp_path):
    # JUMP plate maps leave broad_sample empty in negative-control wells: NaN once read
    meta = real_cells.metadata.copy()
    meta["Metadata_broad_sample"] = np.where(meta[WELL] == "A02", None, "BRD-" + meta[PLATE])
    rules = PairRules(pos_sameby=("Metadata_broad_sample",), reference=(WELL, "A02"))
    ours = evaluate_rules(meta, real_cells.features, rules, NULL_SIZE)
    # treated rows without a control type are no references (pycytominer: NaN = not set)
    meta["Metadata_control_type"] = np.where(meta[WELL] == "A02", "negcon", None)
    rules = PairRules(
        pos_sameby=("Metadata_broad_sample",), reference=("Metadata_control_type", "negcon")
    )
    ours = evaluate_rules(meta, real_cells.features, rules, NULL_SIZE)
    filled = meta.fillna({"Metadata_broad_sample": "DMSO"})
    expected = evaluate_rules(filled, real_cells.features, rules, NULL_SIZE)
    pd.testing.assert_frame_equal(ours.per_group, expected.per_group)
    # a query without a group value is still refused
    meta.loc[0, "Metadata_broad_sample"] = None
    with pytest.raises(ProfileTableError, match="missing in 1 of 234 rows"):
        evaluate_rules(meta, real_cells.features, rules, NULL_SIZE)

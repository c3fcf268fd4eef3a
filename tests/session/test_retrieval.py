"""What the Retrieval dock computes, headless: a task per feature set and how it reads."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from test_tasks import synthetic_profiles

from napari_phenoscope.constants import BROAD_SAMPLE, MODALITY, PLATE, WELL
from napari_phenoscope.evaluation.precision import AP, MAP
from napari_phenoscope.evaluation.rules import STRATUM, PairRules, evaluate_profiles
from napari_phenoscope.evaluation.tasks import REFERENCE, evaluate
from napari_phenoscope.session.retrieval import (
    QUERY_COLUMNS,
    SEED,
    THRESHOLD,
    evaluate_each,
    fraction_retrieved_table,
    group_columns,
    query_columns,
    query_wells,
    stratum_name,
    summary_html,
)

pytest.importorskip("copairs.map")
NULL = 200


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    strong = synthetic_profiles(seed=0, signal=1.5, cell_types=("A549",))
    weak = synthetic_profiles(seed=1, signal=0.2, cell_types=("A549",))
    return {"vit": strong, "classical": weak}


@pytest.fixture(scope="module")
def replicate(tables):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dict(evaluate_each(tables, "replicate", null_size=NULL))


def test_each_feature_set_gets_the_tasks_own_result(tables, replicate):
    assert list(replicate) == ["vit", "classical"]
    for name, table in tables.items():
        expected = evaluate(table, "replicate", NULL, SEED, THRESHOLD, f"{name} well profiles")
        pd.testing.assert_frame_equal(replicate[name].summary, expected.summary)
        pd.testing.assert_frame_equal(replicate[name].per_query, expected.per_query)


def test_pair_rules_are_evaluated_as_rules(tables):
    rules = PairRules(pos_sameby=(BROAD_SAMPLE,), neg_diffby=(BROAD_SAMPLE,))
    table = tables["vit"].dropna(subset=[BROAD_SAMPLE])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (name, result), *rest = evaluate_each({"vit": table}, rules, null_size=NULL)
        expected = evaluate_profiles(table, rules, NULL, SEED, THRESHOLD, "vit well profiles")
    assert name == "vit" and rest == []
    pd.testing.assert_frame_equal(result.per_group, expected.per_group)
    # a rules result is grouped by its metadata columns, shown first in the table
    assert STRATUM in result.summary
    assert group_columns(result) == [BROAD_SAMPLE]
    assert query_columns(result)[0] == BROAD_SAMPLE


def test_a_preset_shows_its_columns_in_reading_order(replicate):
    result = replicate["vit"]
    assert group_columns(result) == []
    columns = query_columns(result)
    assert columns == [c for c in QUERY_COLUMNS if c in result.per_query.columns]
    assert columns.index(AP) < columns.index(MAP)


def test_the_strong_set_retrieves_more_and_the_table_says_so(replicate):
    results = {("replicate", name): result for name, result in replicate.items()}
    table = fraction_retrieved_table(results, "replicate")
    assert list(table.columns) == ["classical", "vit"]  # sorted
    assert set(table.index) == {stratum_name(row) for _, row in replicate["vit"].summary.iterrows()}
    for name, result in replicate.items():
        for _, row in result.summary.iterrows():
            assert table.loc[stratum_name(row), name] == row["fraction_retrieved"]
    assert (table["vit"] > table["classical"]).all()
    assert fraction_retrieved_table(results, "sister").empty


def test_stratum_names_read_as_modality_reference_and_cell_type():
    assert stratum_name(pd.Series({MODALITY: "orf"})) == "orf"
    row = pd.Series({MODALITY: "compound", REFERENCE: "crispr", "Metadata_cell_type": "A549"})
    assert stratum_name(row) == "compound -> crispr (A549)"
    assert stratum_name(pd.Series({STRATUM: "all profiles", MODALITY: "x"})) == "all profiles"
    assert stratum_name(pd.Series({MODALITY: "orf", REFERENCE: "orf"})) == "orf"


def test_summary_counts_the_retrieved_groups_per_stratum(replicate):
    result = replicate["vit"]
    html = summary_html(result, "vit")
    assert html.startswith("<b>replicate</b> on <b>vit</b> profiles (corrected p &lt; 0.05)")
    lines = html.split("<br>")[1:]
    assert len(lines) == len(result.summary)
    for line, (_, row) in zip(lines, result.summary.iterrows(), strict=True):
        retrieved = round(row["fraction_retrieved"] * row["n_groups"])
        assert line.startswith(f"{stratum_name(row)}: mAP {row[MAP]:.3f}, ")
        assert f"{retrieved} of {int(row['n_groups'])} retrieved" in line


def test_query_wells_are_those_of_the_querys_sample_and_modality(tables):
    profiles = tables["vit"].reset_index(drop=True)
    query = profiles.dropna(subset=[BROAD_SAMPLE]).iloc[0]
    same = (profiles[BROAD_SAMPLE].astype(str) == str(query[BROAD_SAMPLE])) & (
        profiles[MODALITY].astype(str) == str(query[MODALITY])
    )
    expected = list(zip(profiles.loc[same, PLATE], profiles.loc[same, WELL], strict=True))
    assert query_wells(profiles, query) == expected and len(expected) > 1
    # a rules result matches on its own group columns: here, the plate
    on_plate = query_wells(profiles, query, [PLATE])
    assert len(on_plate) == int((profiles[PLATE] == query[PLATE]).sum())
    assert query_wells(profiles, query.drop([BROAD_SAMPLE, MODALITY])) == []  # nothing to match
    assert np.all([plate == query[PLATE] for plate, _ in on_plate])

"""Broken well-profile tables through ``phenoscope evaluate``: one line naming file/column."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_outcome import assert_fine, assert_refused, run_cli
from conftest import PROFILE_FEATURES as FEATURES
from conftest import valid_well_profiles as valid_profiles
from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CONTROL_TYPE,
    TARGET_LIST,
)


def _evaluate(capsys, path: Path, task: str = "replicate", *extra: object):
    return run_cli(["evaluate", path, "--task", task, "--null-size", "50", *extra], capsys)


def _csv(tmp_path: Path, table: pd.DataFrame, name: str = "profiles.csv") -> Path:
    path = tmp_path / name
    table.to_csv(path, index=False)
    return path


def test_valid_table_is_fine(capsys, tmp_path):
    """The baseline the broken tables below are made from."""
    outcome = assert_fine(_evaluate(capsys, _csv(tmp_path, valid_profiles())))
    assert "mean_average_precision" in outcome.out


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_feature(capsys, tmp_path, value):
    table = valid_profiles()
    table.loc[3, "feature_2"] = value
    path = tmp_path / "profiles.parquet"
    table.to_parquet(path)
    assert_refused(_evaluate(capsys, path), "profiles.parquet", "feature_2")


def test_text_among_features(capsys, tmp_path):
    table = valid_profiles()
    table["feature_4"] = table["feature_4"].astype(object)
    table.loc[5, "feature_4"] = "n/a"
    assert_refused(_evaluate(capsys, _csv(tmp_path, table)), "profiles.csv", "feature_4")


def test_no_metadata_columns(capsys, tmp_path):
    table = valid_profiles()[FEATURES]
    assert_refused(_evaluate(capsys, _csv(tmp_path, table)), "profiles.csv", "Metadata_")


def test_no_feature_columns(capsys, tmp_path):
    table = valid_profiles().drop(columns=FEATURES)
    assert_refused(_evaluate(capsys, _csv(tmp_path, table)), "profiles.csv", "feature")


def test_header_only(capsys, tmp_path):
    path = _csv(tmp_path, valid_profiles().iloc[:0])
    assert_refused(_evaluate(capsys, path), "profiles.csv")


@pytest.mark.parametrize("name", ["profiles.csv", "profiles.parquet", "profiles.csv.gz"])
def test_random_bytes(capsys, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(os.urandom(4096))
    assert_refused(_evaluate(capsys, path), name)


def test_empty_file(capsys, tmp_path):
    path = tmp_path / "profiles.csv"
    path.write_bytes(b"")
    assert_refused(_evaluate(capsys, path), "profiles.csv")


def test_missing_file(capsys, tmp_path):
    assert_refused(_evaluate(capsys, tmp_path / "nowhere.parquet"), "nowhere.parquet")


def test_unknown_format(capsys, tmp_path):
    path = tmp_path / "profiles.xlsx"
    path.write_bytes(b"PK\x03\x04")
    assert_refused(_evaluate(capsys, path), "profiles.xlsx")


@pytest.mark.parametrize(
    ("task", "column"),
    [("replicate", BROAD_SAMPLE), ("compound-gene", TARGET_LIST), ("replicate", CONTROL_TYPE)],
)
def test_missing_column_a_task_needs(capsys, tmp_path, task, column):
    path = _csv(tmp_path, valid_profiles().drop(columns=[column]))
    assert_refused(_evaluate(capsys, path, task), "profiles.csv", column)


def test_a_single_row(capsys, tmp_path):
    path = _csv(tmp_path, valid_profiles().iloc[[4]])
    assert_refused(_evaluate(capsys, path), "profiles.csv")


def test_only_controls(capsys, tmp_path):
    table = valid_profiles()
    path = _csv(tmp_path, table[table[CONTROL_TYPE] == "negcon"])
    assert_refused(_evaluate(capsys, path), "profiles.csv")


def test_out_is_a_folder(capsys, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    path = _csv(tmp_path, valid_profiles())
    assert_refused(_evaluate(capsys, path, "replicate", "--out", folder), folder)


def test_null_size_not_positive(capsys, tmp_path):
    path = _csv(tmp_path, valid_profiles())
    outcome = run_cli(["evaluate", path, "--task", "replicate", "--null-size", "0"], capsys)
    assert_refused(outcome, "null")

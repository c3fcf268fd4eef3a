"""Profile processing against pycytominer (the oracle) on the same small tables."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from napari_phenoscope.constants import CONTROL_TYPE, PLATE, WELL
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.profiling import processing

pycytominer = pytest.importorskip("pycytominer")

FEATURES = [f"Cells_Feature_{i}" for i in range(8)]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def well_table(seed: int = 0, n_plates: int = 2, wells: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for plate in range(n_plates):
        for well in range(wells):
            negcon = "negcon" if well % 4 == 0 else ""
            rows.append((f"P{plate}", f"W{well:02d}", negcon))
    meta = pd.DataFrame(rows, columns=[PLATE, WELL, CONTROL_TYPE])
    feats = rng.normal(size=(len(meta), len(FEATURES))) * rng.uniform(0.5, 3, len(FEATURES))
    feats += (meta[PLATE] == "P1").to_numpy()[:, None] * 2.0  # a plate effect
    return pd.concat([meta, pd.DataFrame(feats, columns=FEATURES)], axis=1)


@pytest.mark.parametrize("operation", ["median", "mean"])
def test_aggregate_equals_pycytominer(operation):
    rng = np.random.default_rng(1)
    cells = pd.DataFrame(rng.normal(size=(300, len(FEATURES))), columns=FEATURES)
    cells.insert(0, WELL, rng.choice(["A01", "A02", "B07"], 300))
    cells.insert(0, PLATE, rng.choice(["P1", "P2"], 300))
    expected = pycytominer.aggregate(cells, features=FEATURES, operation=operation)
    ours = processing.aggregate(cells, operation=operation)
    pd.testing.assert_frame_equal(ours.reset_index(drop=True), expected.reset_index(drop=True))


@pytest.mark.parametrize("samples", ["all", "negcon"])
def test_normalize_equals_pycytominer_mad_robustize_per_plate(samples):
    table = well_table()
    query = "all" if samples == "all" else f"{CONTROL_TYPE} == 'negcon'"
    expected = pd.concat(
        [
            pycytominer.normalize(
                plate,
                features=FEATURES,
                meta_features=[PLATE, WELL, CONTROL_TYPE],
                samples=query,
                method="mad_robustize",
            )
            for _, plate in table.groupby(PLATE, sort=False)
        ]
    )
    ours = processing.normalise(table, samples=samples)
    np.testing.assert_allclose(ours[FEATURES], expected[FEATURES], rtol=1e-12, atol=1e-12)
    # the plate effect is gone: every plate's negcon median is 0 after negcon normalization
    negcon = processing.normalise(table, samples="negcon")
    medians = negcon[negcon[CONTROL_TYPE] == "negcon"].groupby(PLATE)[FEATURES].median()
    np.testing.assert_allclose(medians, 0, atol=1e-12)


def test_feature_select_equals_pycytominer():
    table = well_table(seed=2)
    table["Cells_Feature_0"] = 1.0  # no variance
    table["Cells_Feature_3"] = table["Cells_Feature_2"] * 2 + 0.01 * table["Cells_Feature_5"]
    table["Cells_Feature_6"] = -table["Cells_Feature_4"]  # anticorrelated: kept (pycytominer)
    table.loc[:10, "Cells_Feature_7"] = np.nan  # > 5 % missing
    operations = ["variance_threshold", "drop_na_columns", "correlation_threshold"]
    expected = pycytominer.feature_select(table, features=FEATURES, operation=operations)
    ours = processing.feature_select(table, operations=operations)
    assert list(ours.columns) == list(expected.columns)
    assert "Cells_Feature_0" not in ours and "Cells_Feature_7" not in ours
    assert ("Cells_Feature_2" in ours) != ("Cells_Feature_3" in ours)


@pytest.mark.parametrize("method", ["ZCA", "ZCA-cor"])
def test_spherize_equals_pycytominer(method):
    table = well_table(seed=3, n_plates=1, wells=80)
    expected = pycytominer.normalize(
        table,
        features=FEATURES,
        meta_features=[PLATE, WELL, CONTROL_TYPE],
        samples=f"{CONTROL_TYPE} == 'negcon'",
        method="spherize",
        spherize_method=method,
    )
    ours = processing.spherise(table, method=method)
    np.testing.assert_allclose(ours[FEATURES], expected[FEATURES], rtol=1e-9, atol=1e-9)
    # whitened controls: identity covariance
    negcon = ours[ours[CONTROL_TYPE] == "negcon"][FEATURES].to_numpy()
    np.testing.assert_allclose(np.cov(negcon, rowvar=False), np.eye(len(FEATURES)), atol=1e-4)


def test_missing_negative_controls_is_a_clear_error():
    table = well_table().assign(**{CONTROL_TYPE: ""})
    with pytest.raises(ProfileTableError, match="no negative controls"):
        processing.normalise(table, samples="negcon")
    with pytest.raises(ProfileTableError, match="no negative controls"):
        processing.spherise(table)


def test_pycytominers_spelling_names_the_same_functions():
    assert processing.normalize is processing.normalise
    assert processing.spherize is processing.spherise

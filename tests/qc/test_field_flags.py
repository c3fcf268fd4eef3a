"""Field pass / fail: blurred, saturated and empty fields against their plate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.errors import QualityControlError
from napari_phenoscope.qc import (
    MIN_FIELDS_TO_COMPARE,
    QC_PASS,
    QC_REASON,
    check_something_passes,
    default_field_rules,
    failed_tests,
    field_measure_names,
    flag_fields,
    measure_field_quality,
    parse_thresholds,
    summarise_fields,
)

SIZE = 128


def _field(seed: int, n_cells: int = 30) -> np.ndarray:
    rng = np.random.default_rng(seed)
    planes = []
    for _ in CHANNELS:
        plane = np.zeros((SIZE, SIZE))
        plane[tuple(rng.integers(0, SIZE, (2, n_cells)))] = 1.0
        plane = ndimage.gaussian_filter(plane, 2.5) * 2e4 + 150
        planes.append(plane + rng.normal(0, np.sqrt(plane)))
    return np.clip(planes, 0, 4095).astype(np.uint16)


def _plate(defects: dict[int, str]) -> pd.DataFrame:
    """Twenty fields of one plate; ``defects`` maps a field number to blur / saturation / empty."""
    rows = []
    for number in range(20):
        defect = defects.get(number, "")
        n_cells = 0 if defect == "empty" else 30
        image = _field(number, n_cells)
        if defect == "blur":
            image = ndimage.gaussian_filter(image.astype(float), (0, 4, 4)).astype(np.uint16)
        if defect == "saturation":
            image[1, 40:70, 40:70] = 4095
        count = n_cells + (number % 5)  # a plate's fields never have equal counts
        measures = measure_field_quality(image, n_cells=count if n_cells else 0)
        rows.append(
            {PLATE: "P1", WELL: f"A{number // 2 + 1:02d}", SITE: number % 2 + 1, **measures}
        )
    return pd.DataFrame(rows)


def test_blurred_saturated_and_empty_fields_fail_with_their_reason_and_no_other():
    judged = flag_fields(_plate({3: "blur", 7: "saturation", 12: "empty"}))
    failed = judged.loc[~judged[QC_PASS]]
    assert sorted(failed.index) == [3, 7, 12]
    assert "blur" in failed_tests(judged.at[3, QC_REASON])
    assert judged.at[7, QC_REASON] == "saturation: PercentMaximal ER"
    assert "empty" in failed_tests(judged.at[12, QC_REASON])
    assert (judged.loc[judged[QC_PASS], QC_REASON] == "").all()


def test_a_clean_plate_passes_entirely():
    assert flag_fields(_plate({}))[QC_PASS].all()


def test_thresholds_are_overridable_and_unknown_measures_are_one_clear_error():
    names = field_measure_names()
    rules = parse_thresholds(["Count_Cells=-0.3"], default_field_rules(), names)
    assert next(r for r in rules if r.measure == "Count_Cells").z == -0.3
    judged = flag_fields(_plate({}), rules)
    assert (~judged[QC_PASS]).sum() > 0  # the sparsest fields are 0.4 SD below the median
    off = parse_thresholds(["PercentMaximal_ER=off"], default_field_rules(), names)
    # without the saturation test, the debris's flat patch reads as blur in ER
    assert flag_fields(_plate({7: "saturation"}), off).at[7, QC_REASON] == (
        "blur: PowerLogLogSlope ER"
    )
    added = parse_thresholds(["ImageQuality_MeanIntensity_DNA=3"], (), names)
    assert added[0].measure == "ImageQuality_MeanIntensity_DNA" and added[0].z == 3
    with pytest.raises(QualityControlError, match="unknown measure 'Sharpness_DNA'"):
        parse_thresholds(["Sharpness_DNA=-3"], default_field_rules(), names)
    with pytest.raises(QualityControlError, match="not a number"):
        parse_thresholds(["Count_Cells=low"], default_field_rules(), names)
    with pytest.raises(QualityControlError, match="MEASURE=Z"):
        parse_thresholds(["Count_Cells"], default_field_rules(), names)


def test_a_plate_where_every_field_fails_is_one_line():
    judged = flag_fields(
        _plate({}), parse_thresholds(["Count_Cells=0.0001"], (), field_measure_names())
    )
    judged[QC_PASS] = False
    judged[QC_REASON] = "empty: Count_Cells"
    with pytest.raises(QualityControlError, match="QC failed every field of plate X") as error:
        check_something_passes(judged, "plate X")
    assert "\n" not in str(error.value)


def test_summary_counts_fields_per_test_and_lists_wells_without_good_fields():
    judged = flag_fields(_plate({0: "empty", 1: "empty", 5: "blur"}))
    lines = summarise_fields(judged, min_good_fields=1)
    assert lines[0] == "20 fields, 3 failed QC"
    assert "  empty: 2 fields" in lines and "  blur: 1 fields" in lines
    assert lines[-1].endswith("P1 A01 (0)")


def test_a_plate_of_too_few_fields_is_kept_and_the_summary_says_why():
    plate = _plate({1: "blur"})
    few = plate.iloc[: MIN_FIELDS_TO_COMPARE - 1]
    judged = flag_fields(few)
    assert judged[QC_PASS].all() and (judged[QC_REASON] == "").all()
    assert f"plate P1: {len(few)} field(s), too few to judge" in summarise_fields(judged)[-1]
    # from the minimum on, the blurred field is judged against the others again
    enough = flag_fields(plate.iloc[:MIN_FIELDS_TO_COMPARE])
    assert list(enough.index[~enough[QC_PASS]]) == [1]

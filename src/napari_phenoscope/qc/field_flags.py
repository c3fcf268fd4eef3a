"""Pass or fail each field against its own plate: robust z-scores of the image measures.

A field knows no absolute truth (a dim stain, a sparse cell line, a 12-bit camera), so each
measure is compared with the plate's other fields: ``z = (value - plate median) / scale``,
``scale = 1.4826 * MAD``, floored (``FieldRule.floor``) so that a measure nearly constant
over a clean plate (PercentMaximal is one pixel in every focused, unsaturated field) does not
turn a trace of noise into a huge z. A field fails a rule when its z passes the rule's
limit in the rule's direction; ``QC_reason`` names each failed test and its channels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.errors import QualityControlError
from napari_phenoscope.qc.measures import CELL_COUNT, field_measure_names, measure_name

QC_PASS = "QC_pass"
QC_REASON = "QC_reason"
MAD_TO_SD = 1.4826  # MAD of a normal distribution x this = its standard deviation
#: Fewer fields than this on a plate are not judged against each other: the median and MAD
#: of two or three fields make any field an outlier of the others (three fields of a
#: clean demo plate gave one a blur z below -6).
MIN_FIELDS_TO_COMPARE = 6


@dataclass(frozen=True)
class FieldRule:
    """One field test on one measure.

    Attributes
    ----------
    measure
        Column of the field measures (``ImageQuality_PowerLogLogSlope_DNA``).
    test
        What failing means to a biologist: ``blur``, ``saturation``, ``empty``.
    z
        Robust z limit: negative fails fields below it, positive above it.
    floor
        Least scale (in the measure's units) of the z-score.
    relative_floor
        Least scale as a fraction of the plate median's magnitude.
    unless
        A test that explains this one in the same channel (saturated debris is a large flat
        patch, whose low frequencies lower PowerLogLogSlope: it is not blur).
    """

    measure: str
    test: str
    z: float
    floor: float = 0.0
    relative_floor: float = 0.0
    unless: str = ""


def default_field_rules(channels: Sequence[str] = CHANNELS) -> tuple[FieldRule, ...]:
    """Blur (PowerLogLogSlope low), saturation (PercentMaximal high), empty (few cells).

    Limits are deliberately wide (5 to 6 robust SD): a perturbation that changes a plate's
    look moves a well's fields a few SD; a defocused, debris-covered or empty field
    moves them tens (docs/qc.md).
    """
    rules = [
        FieldRule(
            measure_name("PowerLogLogSlope", c),
            "blur",
            -6.0,
            relative_floor=0.03,
            unless="saturation",
        )
        for c in channels
    ]
    rules += [
        FieldRule(measure_name("PercentMaximal", c), "saturation", 6.0, floor=0.08)
        for c in channels
    ]
    rules.append(FieldRule(CELL_COUNT, "empty", -5.0, floor=1.0, relative_floor=0.15))
    return tuple(rules)


def parse_thresholds(
    texts: Iterable[str], rules: Sequence[FieldRule], measures: Sequence[str]
) -> tuple[FieldRule, ...]:
    """Apply ``MEASURE=Z`` overrides (``Z`` a robust z limit, or ``off``) to ``rules``.

    A measure without a default rule gets one (its test named after the measure).
    ``ImageQuality_`` may be left out of the name.

    Raises
    ------
    QualityControlError
        Naming the text, if the measure is not one of ``measures`` or Z is not a number.
    """
    known = list(measures)
    updated = {rule.measure: rule for rule in rules}
    for text in texts:
        name, sep, value = str(text).partition("=")
        name = name.strip()
        if not sep:
            raise QualityControlError(
                f"QC threshold {text!r} is not MEASURE=Z (e.g. Count_Cells=-4)"
            )
        if name not in known and f"ImageQuality_{name}" in known:
            name = f"ImageQuality_{name}"
        if name not in known:
            raise QualityControlError(
                f"QC threshold {text!r} names an unknown measure {name!r}; measures are "
                f"ImageQuality_<{'|'.join(sorted({m.split('_')[1] for m in known if '_' in m}))}"
                f">_<channel> and {CELL_COUNT}"
            )
        if value.strip().lower() == "off":
            updated.pop(name, None)
            continue
        try:
            limit = float(value)
        except ValueError:
            raise QualityControlError(f"QC threshold {text!r}: {value!r} is not a number") from None
        if limit == 0 or not np.isfinite(limit):
            raise QualityControlError(f"QC threshold {text!r}: the z limit must be non-zero")
        base = updated.get(name, FieldRule(name, name.split("_")[1] if "_" in name else name, 1))
        updated[name] = replace(base, z=limit)
    return tuple(updated.values())


def robust_z(values: pd.Series, floor: float = 0.0, relative_floor: float = 0.0) -> pd.Series:
    """``(values - median) / max(1.4826 MAD, floor, relative_floor * |median|)``."""
    finite = values[np.isfinite(values)]
    if finite.empty:
        return pd.Series(np.nan, index=values.index)
    median = float(finite.median())
    mad = float((finite - median).abs().median())
    scale = max(MAD_TO_SD * mad, floor, relative_floor * abs(median), 1e-12)
    return (values - median) / scale


def flag_fields(measures: pd.DataFrame, rules: Sequence[FieldRule] | None = None) -> pd.DataFrame:
    """Judge every field against the other fields of its plate.

    Parameters
    ----------
    measures
        One row per field: ``Metadata_Plate``, ``Metadata_Well``, ``Metadata_Site`` and the
        measure columns (``measure_field_quality``).
    rules
        Field tests; ``default_field_rules()`` by default.

    Returns
    -------
    pandas.DataFrame
        ``measures`` with ``QC_pass`` (bool) and ``QC_reason`` ("" for a passing field,
        else ``"blur: PowerLogLogSlope DNA, ER; empty: Count_Cells"``).

    Raises
    ------
    QualityControlError
        If a rule names a column that ``measures`` lacks.
    """
    rules = default_field_rules() if rules is None else rules
    for rule in rules:
        if rule.measure not in measures.columns:
            raise QualityControlError(f"the field measures have no column {rule.measure!r}")
    judged = measures.copy()
    failures: dict[int, dict[str, list[str]]] = {}
    for _, plate in judged.groupby(PLATE, sort=False):
        if len(plate) < MIN_FIELDS_TO_COMPARE:
            continue  # kept, and said by summarise_fields
        for rule in rules:
            z = robust_z(plate[rule.measure].astype(float), rule.floor, rule.relative_floor)
            failed = z < rule.z if rule.z < 0 else z > rule.z
            for index in plate.index[failed.to_numpy()]:
                tests = failures.setdefault(index, {})
                tests.setdefault(rule.test, []).append(_short(rule.measure))
    for tests in failures.values():
        _drop_explained(tests, rules)
    failures = {index: tests for index, tests in failures.items() if tests}
    judged[QC_PASS] = [index not in failures for index in judged.index]
    judged[QC_REASON] = [_reason(failures.get(index, {})) for index in judged.index]
    return judged


def _drop_explained(tests: dict[str, list[str]], rules: Sequence[FieldRule]) -> None:
    """Remove the failures that a failure of the rule's ``unless`` test in the same channel
    explains (blur in a channel that saturates)."""
    for rule in rules:
        if not rule.unless or rule.unless not in tests or rule.test not in tests:
            continue
        explaining = {name.rpartition(" ")[2] for name in tests[rule.unless]}
        name = _short(rule.measure)
        if name in tests[rule.test] and name.rpartition(" ")[2] in explaining:
            tests[rule.test].remove(name)
        if not tests[rule.test]:
            del tests[rule.test]


def _short(measure: str) -> str:
    """``ImageQuality_PowerLogLogSlope_DNA`` -> ``PowerLogLogSlope DNA``."""
    parts = measure.split("_")
    return " ".join(parts[1:]) if parts[0] == "ImageQuality" and len(parts) > 2 else measure


def _reason(tests: Mapping[str, list[str]]) -> str:
    parts = []
    for test, names in tests.items():
        # "PowerLogLogSlope DNA", "PowerLogLogSlope ER" -> "PowerLogLogSlope DNA, ER"
        by_measure: dict[str, list[str]] = {}
        for name in names:
            measure, _, channel = name.rpartition(" ")
            by_measure.setdefault(measure or channel, []).append(channel if measure else "")
        text = "; ".join(
            f"{m} {', '.join(c for c in cs if c)}".strip() for m, cs in by_measure.items()
        )
        parts.append(f"{test}: {text}")
    return "; ".join(parts)


def failed_tests(reason: str) -> list[str]:
    """The tests named in a ``QC_reason`` (``"blur: ...; empty: ..."`` -> blur, empty)."""
    return [part.split(":")[0].strip() for part in reason.split("; ") if ":" in part]


def summarise_fields(judged: pd.DataFrame, min_good_fields: int = 1) -> list[str]:
    """Short lines for a terminal: fields failed per test, wells left with few good fields."""
    n_failed = int((~judged[QC_PASS]).sum())
    lines = [f"{len(judged)} fields, {n_failed} failed QC"]
    counts: dict[str, int] = {}
    for reason in judged.loc[~judged[QC_PASS], QC_REASON]:
        for test in dict.fromkeys(failed_tests(reason)):
            counts[test] = counts.get(test, 0) + 1
    lines += [f"  {test}: {count} fields" for test, count in sorted(counts.items())]
    n_fields = judged.groupby(PLATE).size()
    for plate, count in n_fields[n_fields < MIN_FIELDS_TO_COMPARE].items():
        lines.append(
            f"plate {plate}: {count} field(s), too few to judge against each other "
            f"(at least {MIN_FIELDS_TO_COMPARE}): its fields are kept"
        )
    good = judged.groupby([PLATE, WELL])[QC_PASS].sum()
    few = good[good < min_good_fields]
    if len(few):
        wells = ", ".join(f"{p} {w} ({int(n)})" for (p, w), n in few.items())
        lines.append(f"wells with fewer than {min_good_fields} good field(s): {wells}")
    return lines


def field_keys(judged: pd.DataFrame, passing: bool) -> set[tuple[str, str, int]]:
    """(plate, well, site) of the passing (or failing) fields."""
    rows = judged[judged[QC_PASS] == passing]
    return set(
        zip(rows[PLATE].astype(str), rows[WELL].astype(str), rows[SITE].astype(int), strict=True)
    )


__all__ = [
    "MIN_FIELDS_TO_COMPARE",
    "QC_PASS",
    "QC_REASON",
    "FieldRule",
    "default_field_rules",
    "failed_tests",
    "field_keys",
    "field_measure_names",
    "flag_fields",
    "parse_thresholds",
    "robust_z",
    "summarise_fields",
]

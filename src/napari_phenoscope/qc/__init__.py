"""Field and cell quality control: image-quality measures, outlier flags (docs/qc.md)."""

from napari_phenoscope.qc.cells import (
    CELL_MEASURES,
    DEFAULT_CELL_RULES,
    CellRule,
    flag_cells,
    measure_cell_quality,
)
from napari_phenoscope.qc.field_flags import (
    MIN_FIELDS_TO_COMPARE,
    QC_PASS,
    QC_REASON,
    FieldRule,
    default_field_rules,
    failed_tests,
    flag_fields,
    parse_thresholds,
    robust_z,
    summarise_fields,
)
from napari_phenoscope.qc.measures import (
    CELL_COUNT,
    CHANNEL_MEASURES,
    field_measure_names,
    measure_field_quality,
    power_log_log_slope,
)
from napari_phenoscope.qc.plate import (
    FIELD_FAILED,
    QC_CELLS_NAME,
    QC_FIELDS_NAME,
    QC_MODES,
    check_something_passes,
    field_quality,
    judge_plates,
    write_qc_tables,
)

__all__ = [
    "CELL_COUNT",
    "CELL_MEASURES",
    "CHANNEL_MEASURES",
    "DEFAULT_CELL_RULES",
    "FIELD_FAILED",
    "MIN_FIELDS_TO_COMPARE",
    "QC_CELLS_NAME",
    "QC_FIELDS_NAME",
    "QC_MODES",
    "QC_PASS",
    "QC_REASON",
    "CellRule",
    "FieldRule",
    "check_something_passes",
    "default_field_rules",
    "failed_tests",
    "field_measure_names",
    "field_quality",
    "flag_cells",
    "flag_fields",
    "judge_plates",
    "measure_cell_quality",
    "measure_field_quality",
    "parse_thresholds",
    "power_log_log_slope",
    "robust_z",
    "summarise_fields",
    "write_qc_tables",
]

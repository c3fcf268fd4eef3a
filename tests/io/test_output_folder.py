"""Output folders and files written whole or not at all (io/output_folder.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from napari_phenoscope.constants import LABEL, PLATE, SITE, WELL
from napari_phenoscope.io.output_folder import atomic_path
from napari_phenoscope.qc import QC_PASS, QC_REASON
from napari_phenoscope.qc.plate import write_qc_tables


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_path(path) as temporary:
        temporary.write_text("half")
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [path]


def test_qc_tables_are_written_through_a_temporary(tmp_path, monkeypatch):
    fields = pd.DataFrame(
        {PLATE: ["P"], WELL: ["A01"], SITE: [1], QC_PASS: [True], QC_REASON: [""]}
    )
    cells = pd.DataFrame(
        {PLATE: ["P"], WELL: ["A01"], SITE: [1], LABEL: [1], QC_PASS: [True], QC_REASON: [""]}
    )
    written: list[str] = []
    original = pd.DataFrame.to_csv

    def record(frame, target, *args, **kwargs):
        written.append(target.name)
        return original(frame, target, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", record)
    path = write_qc_tables(tmp_path, fields, cells)
    assert written and written[0].startswith(".qc_fields.csv.") and written[0].endswith(".tmp")
    assert pd.read_csv(path)[WELL].tolist() == ["A01"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qc_cells.parquet", "qc_fields.csv"]

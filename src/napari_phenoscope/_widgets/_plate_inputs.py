"""The plate navigator's input options: metadata table, negative controls, illum, pixel size.

The same options as ``phenoscope profile`` (docs/layouts/), as form rows.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtWidgets import QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton

from napari_phenoscope.errors import PhenoscopeError


class PlateInputs:
    """Line edits for ``--metadata``, ``--negcon``, ``--illum`` and ``--pixel-size``."""

    def __init__(self) -> None:
        self.metadata_edit = QLineEdit()
        self.metadata_edit.setPlaceholderText("table (CSV/TSV/Parquet) or JUMP metadata folder")
        self.negcon_edit = QLineEdit()
        self.negcon_edit.setPlaceholderText("COLUMN=VALUE, e.g. Metadata_pert_iname=DMSO")
        self.illum_edit = QLineEdit()
        self.illum_edit.setPlaceholderText("from load_data_with_illum, or a folder of .npy")
        self.pixel_size_edit = QLineEdit()
        self.pixel_size_edit.setPlaceholderText("from the image metadata")

    def add_rows(self, form: QFormLayout) -> None:
        """Add the four rows (with file pickers) to a form."""
        form.addRow("Metadata", self._with_picker(self.metadata_edit, self._pick_metadata))
        form.addRow("Negative controls", self.negcon_edit)
        form.addRow("Illumination", self._with_picker(self.illum_edit, self._pick_illum))
        form.addRow("Pixel size (µm)", self.pixel_size_edit)

    @staticmethod
    def _with_picker(edit: QLineEdit, pick) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(edit)
        button = QPushButton("…")
        button.setMaximumWidth(28)
        button.clicked.connect(pick)
        row.addWidget(button)
        return row

    def _pick_metadata(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            None, "Well metadata table", "", "Tables (*.csv *.tsv *.gz *.parquet);;All (*)"
        )
        if path:
            self.metadata_edit.setText(path)

    def _pick_illum(self) -> None:
        folder = QFileDialog.getExistingDirectory(None, "Illumination functions (.npy)")
        if folder:
            self.illum_edit.setText(folder)

    def values(self) -> dict[str, Any]:
        """Keyword arguments of ``open_plate``; a pixel size that is not a number raises."""
        text = self.pixel_size_edit.text().strip()
        try:
            pixel_size = float(text) if text else None
        except ValueError:
            raise PhenoscopeError(f"pixel size {text!r} is not a number of µm") from None
        return {
            "metadata": self.metadata_edit.text().strip() or None,
            "negcon": self.negcon_edit.text().strip() or None,
            "illum": self.illum_edit.text().strip() or None,
            "pixel_size": pixel_size,
        }

"""The Retrieval dock's form for copairs' pair rules: group by, reference, negatives within."""

from __future__ import annotations

from qtpy.QtWidgets import QComboBox, QFormLayout, QLineEdit, QWidget

from napari_phenoscope.evaluation.rules import PairRules, parse_columns, parse_reference

#: The task combo's entry for rules given in the form (beside the CPJUMP1 tasks).
RULES_TASK = "copairs rules"
_ANYWHERE = "(anywhere)"


class RulesForm(QWidget):
    """Three fields that make a :class:`PairRules` (the rest of copairs' vocabulary is on
    the command line: ``phenoscope evaluate --pos-diffby ... --multilabel ...``)."""

    def __init__(self) -> None:
        super().__init__()
        self.group_combo = QComboBox()
        self.group_combo.setEditable(True)
        self.group_combo.setToolTip("pos_sameby: profiles sharing these values are positives")
        self.reference_edit = QLineEdit()
        self.reference_edit.setPlaceholderText("e.g. Metadata_control_type=negcon (optional)")
        self.reference_edit.setToolTip(
            "rank each group against the rows with COLUMN == VALUE only (copairs' reference)"
        )
        self.within_combo = QComboBox()
        self.within_combo.setToolTip("neg_sameby: negatives come from the same value only")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Group by", self.group_combo)
        form.addRow("Reference", self.reference_edit)
        form.addRow("Negatives within", self.within_combo)

    def set_columns(self, columns: list[str]) -> None:
        """Offer the metadata ``columns`` of the feature set (keeping the current choices)."""
        group, within = self.group_combo.currentText(), self.within_combo.currentText()
        self.group_combo.clear()
        self.group_combo.addItems(columns)
        self.within_combo.clear()
        self.within_combo.addItems([_ANYWHERE, *columns])
        for combo, value in ((self.group_combo, group), (self.within_combo, within)):
            if value and (combo.isEditable() or combo.findText(value) >= 0):
                combo.setCurrentText(value)

    def rules(self) -> PairRules:
        """The rules in the form (``ProfileTableError`` for a malformed reference)."""
        reference = self.reference_edit.text().strip()
        within = self.within_combo.currentText()
        return PairRules(
            pos_sameby=parse_columns(self.group_combo.currentText()),
            neg_sameby=() if within in ("", _ANYWHERE) else (within,),
            reference=parse_reference(reference) if reference else None,
        )

"""Dialogs of the registry: a new inventory record, and editing one (with a reason).

The dialog only collects plain values; ``services.inventory`` validates them (control and
bidirectional characters, tiers, choices) and its error is shown inside the dialog.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from core.entities_registry import DATA_CLASSIFICATIONS, Model
from views.model_table_model import SOURCE_LABELS, STATUS_LABELS
from views.widgets import FormDialog, plain_label, reason_field

TIER_CHOICES = (("Not rated yet", None), ("1 — high", 1), ("2 — medium", 2), ("3 — low", 3))
PERSONAL_CHOICES = (("Not stated yet", None), ("Yes", True), ("No", False))


def _combo(choices: tuple[tuple[str, Any], ...] | list[tuple[str, Any]]) -> QComboBox:
    combo = QComboBox()
    for label, value in choices:
        combo.addItem(label, value)
    return combo


def _select(combo: QComboBox, value: Any) -> None:
    for i in range(combo.count()):
        if combo.itemData(i) == value:
            combo.setCurrentIndex(i)
            return


def _text_box(placeholder: str) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setPlaceholderText(placeholder)
    box.setTabChangesFocus(True)
    box.setStyleSheet("QPlainTextEdit { min-height: 40px; max-height: 40px; }")  # two lines
    return box


class ModelFormDialog(FormDialog):
    """The inventory fields of one model. Without ``model``: a new record (name editable, no
    reason); with it: an edit of that record, which needs a reason for the audit trail."""

    def __init__(self, model: Model | None = None, parent: QWidget | None = None) -> None:
        editing = model is not None
        super().__init__(f"Edit {model.name}" if editing else "New model",
                         "Save changes" if editing else "Create model", parent)
        self.setMinimumWidth(600)
        form = QFormLayout()
        form.setVerticalSpacing(7)
        self.name = QLineEdit()
        self.name.setPlaceholderText("unique, e.g. retail-credit-pd")
        self.name.setMaxLength(200)
        self.purpose = _text_box("what business question it answers")
        self.intended_use = _text_box("decisions it supports, and by whom")
        self.restrictions = _text_box("where it must not be used")
        self.products = QLineEdit()
        self.products.setPlaceholderText("e.g. credit cards, personal loans")
        self.methodology = QLineEdit()
        self.methodology.setPlaceholderText("e.g. gradient-boosted trees")
        self.limitations = _text_box("known weaknesses, assumptions, data it was not built for "
                                     "(printed in the documentation)")
        self.monitoring_plan = _text_box("what is watched in production, how often, and the "
                                         "alert thresholds (printed in the documentation)")
        self.business_owner = QLineEdit()
        self.developer = QLineEdit()
        self.risk_tier = _combo(TIER_CHOICES)
        self.data_classification = _combo(
            [("Not set", "")] + [(c.capitalize(), c) for c in DATA_CLASSIFICATIONS])
        self.uses_personal_data = _combo(PERSONAL_CHOICES)
        self.source = _combo([(label, key) for key, label in SOURCE_LABELS.items()])
        self.vendor_name = QLineEdit()
        self.vendor_name.setPlaceholderText("the vendor's name")
        self.source.currentIndexChanged.connect(self._source_changed)
        self.status = _combo([(label, key) for key, label in STATUS_LABELS.items()
                              if key != "retired" or (editing and model.status == "retired")])
        if not editing:
            form.addRow("&Name", self.name)
        form.addRow("&Purpose", self.purpose)
        form.addRow("&Intended use", self.intended_use)
        form.addRow("&Restrictions on use", self.restrictions)
        form.addRow("Pro&ducts", self.products)
        form.addRow("&Methodology", self.methodology)
        form.addRow("&Limitations and\nassumptions", self.limitations)
        form.addRow("&Ongoing monitoring\nplan", self.monitoring_plan)
        form.addRow("&Business owner", self.business_owner)
        form.addRow("De&veloper", self.developer)
        form.addRow("Risk &tier", self.risk_tier)
        form.addRow("Data &classification", self.data_classification)
        form.addRow("Uses personal d&ata", self.uses_personal_data)
        form.addRow("&Source", self.source)
        form.addRow("Vendor na&me", self.vendor_name)
        if editing:
            form.addRow("St&atus", self.status)
        self.body.addLayout(form)
        self.reason: QLineEdit | None = None
        if editing:
            self._fill(model)
            self.reason = reason_field()
            self.body.addWidget(self.reason)
        else:
            self.body.addWidget(plain_label(
                "Only the name is needed now; the completeness check lists what is still "
                "missing. Versions are added by importing an artifact.", "hint"))
        self._source_changed()

    def set_busy(self, busy: bool) -> None:
        super().set_busy(busy)
        if not busy:  # disabling it moved the focus, and with it the default, to Cancel
            self.ok_button.setDefault(True)

    def _fill(self, model: Model) -> None:
        self.name.setText(model.name)
        for key in ("purpose", "intended_use", "restrictions", "limitations", "monitoring_plan"):
            getattr(self, key).setPlainText(getattr(model, key))
        for key in ("products", "methodology", "business_owner", "developer", "vendor_name"):
            getattr(self, key).setText(getattr(model, key))
        _select(self.risk_tier, model.risk_tier)
        _select(self.data_classification, model.data_classification)
        _select(self.uses_personal_data, model.uses_personal_data)
        _select(self.source, model.source)
        _select(self.status, model.status)

    def _source_changed(self, *_args: object) -> None:
        self.vendor_name.setEnabled(self.source.currentData() == "vendor")

    def model_name(self) -> str:
        return self.name.text()

    def values(self) -> dict[str, Any]:
        """Plain values for ``services.inventory`` (read on the GUI thread)."""
        vendor = self.source.currentData() == "vendor"
        values: dict[str, Any] = {
            "purpose": self.purpose.toPlainText(),
            "intended_use": self.intended_use.toPlainText(),
            "restrictions": self.restrictions.toPlainText(),
            "products": self.products.text(),
            "methodology": self.methodology.text(),
            "limitations": self.limitations.toPlainText(),
            "monitoring_plan": self.monitoring_plan.toPlainText(),
            "business_owner": self.business_owner.text(),
            "developer": self.developer.text(),
            "risk_tier": self.risk_tier.currentData(),
            "data_classification": self.data_classification.currentData(),
            "uses_personal_data": self.uses_personal_data.currentData(),
            "source": self.source.currentData(),
            "vendor_name": self.vendor_name.text() if vendor else "",
        }
        if self.reason is not None:
            values["status"] = self.status.currentData()
        return values

    def reason_text(self) -> str:
        return self.reason.text().strip() if self.reason is not None else ""

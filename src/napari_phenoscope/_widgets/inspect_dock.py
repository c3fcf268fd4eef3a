"""Inspect dock: what the self-supervised model sees in a cell (or in a whole field, tiled).

For the selected cell, or for every tile of the field, the MAE's masked input, its
reconstruction, the reconstruction error and the encoder's CLS attention (one head or the
rollout over layers) are added as image layers placed over the field, so they line up with
the channels and the labels. A box outlines the window (the crop) the model saw; the
masked patches are grey, not black like the background; the attention and error layers
carry a colour bar.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

import napari_phenoscope.session.inspect as _inspect
from napari_phenoscope._widgets._cells import enable_cell_clicks, field_geometry
from napari_phenoscope._widgets._dock import Dock
from napari_phenoscope._widgets._viewer import tag_field_layer
from napari_phenoscope.errors import one_line
from napari_phenoscope.session.inspect import ROLLOUT, Inspection
from napari_phenoscope.session.positions import cell_center, field_key
from napari_phenoscope.session.state import NO_IMAGES

if TYPE_CHECKING:
    import napari

MODES = ("cell", "field")
MODE_TEXT = {"cell": "selected cell", "field": "whole field, tiled"}
LAYER_MASKED = "MAE masked input"
LAYER_RECONSTRUCTION = "MAE reconstruction"
LAYER_ERROR = "MAE error"
LAYER_ATTENTION = "attention"
INSPECT_LAYERS = (LAYER_MASKED, LAYER_RECONSTRUCTION, LAYER_ERROR, LAYER_ATTENTION)
LAYER_WINDOW = "inspected window"
MAX_BOXES = 4  # a tiled field is all boxes: outline only the windows of a cell
NO_PLATE = "No plate loaded: open one in the Plate navigator first."
NO_CELL = (
    "No cell selected: profile this field (Profile dock), then click a cell, "
    "or inspect the whole field."
)


def show_inspection(viewer: Any, inspection: Inspection) -> None:
    """Add or refresh the four inspection layers at the inspected window of the field."""
    geometry = field_geometry(viewer)  # in um where the plate's pixel size is known
    scale, units = geometry["scale"], geometry["units"]
    translate = tuple(o * s for o, s in zip(inspection.origin, scale, strict=True))
    specs = (
        (LAYER_MASKED, inspection.masked, {"rgb": True}),
        (LAYER_RECONSTRUCTION, inspection.reconstruction, {"rgb": True}),
        (LAYER_ERROR, inspection.error, {"colormap": "magma", "visible": False}),
        (
            LAYER_ATTENTION,
            inspection.attention,
            {"colormap": "inferno", "opacity": 0.6, "visible": False},
        ),
    )
    for name, data, kwargs in specs:
        layer = viewer.layers[name] if name in viewer.layers else None
        if layer is not None and layer.rgb == kwargs.get("rgb", False) and layer.ndim == 2:
            # refreshed in place: a new layer costs a new GL visual (seconds in software GL)
            layer.data = data
            layer.scale, layer.translate, layer.units = scale, translate, units
            if not layer.rgb:
                layer.reset_contrast_limits()
        else:
            if layer is not None:
                viewer.layers.remove(name)  # an RGB layer can not become single-channel
            layer = viewer.add_image(data, name=name, translate=translate, **geometry, **kwargs)
        if not layer.rgb:
            layer.colorbar.visible = True  # attention and error read as numbers
        tag_field_layer(layer, inspection.key, name)
    show_window(viewer, inspection, geometry)
    viewer.layers.selection.active = viewer.layers[LAYER_RECONSTRUCTION]


def show_window(viewer: Any, inspection: Inspection, geometry: dict[str, Any]) -> None:
    """Outline the crop the model saw (a white box per window; none for a tiled field)."""
    windows = np.asarray(inspection.windows, dtype=float).reshape(-1, 4)
    boxes = [np.array([[y0, x0], [y1, x1]]) for y0, x0, y1, x1 in windows]
    boxes = boxes if len(boxes) <= MAX_BOXES else []
    if LAYER_WINDOW in viewer.layers:
        layer = viewer.layers[LAYER_WINDOW]
        layer.data = []
        if boxes:
            layer.add_rectangles(boxes, edge_color="white", face_color="transparent", edge_width=2)
        layer.scale, layer.units = geometry["scale"], geometry["units"]
        tag_field_layer(layer, inspection.key, LAYER_WINDOW)
        return
    if not boxes:
        return
    layer = viewer.add_shapes(
        boxes,
        shape_type="rectangle",
        name=LAYER_WINDOW,
        edge_color="white",
        face_color="transparent",
        edge_width=2,
        **geometry,
    )
    tag_field_layer(layer, inspection.key, LAYER_WINDOW)


class InspectDock(Dock):
    """Dock widget: MAE reconstruction and attention of a cell or of the tiled field."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__(napari_viewer, NO_PLATE)
        self.last: Inspection | None = None

        self.mode_combo = QComboBox()
        for mode in MODES:
            self.mode_combo.addItem(MODE_TEXT[mode], mode)
        self.cell_label = QLabel("none")
        self.mask_ratio = QDoubleSpinBox()
        self.mask_ratio.setRange(0.05, 0.95)
        self.mask_ratio.setSingleStep(0.05)
        self.mask_ratio.setValue(0.75)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.attention_combo = QComboBox()
        self.attention_combo.addItem("rollout", ROLLOUT)
        for head in range(_inspect.attention_heads()):
            self.attention_combo.addItem(f"head {head}", head)
        self.weights_edit = QLineEdit()
        self.weights_edit.setPlaceholderText("bundled MAE ViT-Tiny")
        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(lambda: self.run())

        form = QFormLayout()
        form.addRow("Inspect", self.mode_combo)
        form.addRow("Cell", self.cell_label)
        form.addRow("Mask ratio", self.mask_ratio)
        form.addRow("Seed", self.seed)
        form.addRow("Attention", self.attention_combo)
        form.addRow("Weights", self.weights_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.run_button)
        layout.addWidget(self.status)
        layout.addStretch(1)

        enable_cell_clicks(napari_viewer)  # "pick by clicking" works without the Profile dock
        self.bind_model_settings(self.weights_edit)
        self.subscribe(
            session_changed=self._session_changed, selection_changed=self._selection_changed
        )

    def run(
        self,
        mode: str | None = None,
        mask_ratio: float | None = None,
        seed: int | None = None,
        attention: str | int | None = None,
    ) -> bool:
        """Compute and show the inspection layers (choices default to the controls)."""
        if mode is not None:
            self.mode_combo.setCurrentIndex(MODES.index(mode))
        if mask_ratio is not None:
            self.mask_ratio.setValue(mask_ratio)
        if seed is not None:
            self.seed.setValue(seed)
        if attention is not None:
            self.attention_combo.setCurrentIndex(self.attention_combo.findData(attention))
        session = self.current_session()
        if session is None:
            return self.fail(NO_PLATE)
        if self.running:
            self.status.setText("Already running: wait for the current inspection.")
            return False
        if not session.has_images:
            return self.fail(f"Cannot inspect: {NO_IMAGES}.")
        key = field_key(session)
        mode = self.mode_combo.currentData()
        centre = None
        if mode == "cell":
            selected = [cell for cell in session.selected if tuple(cell[:3]) == key]
            centre = cell_center(session, selected[-1]) if selected else None
            if centre is None:
                return self.fail(NO_CELL)
        self.run_button.setEnabled(False)
        what = "the selected cell" if mode == "cell" else "the field's tiles"
        self.status.setText(f"Reconstructing {what}…")
        cancel = threading.Event()
        self.start(
            # in the dock's child process: torch and timm, imported and run in a thread,
            # hold the GIL for seconds at a time (the viewer would freeze)
            partial(self.child_process.run, _inspect.inspect_field, cancel=cancel),
            session.field_row(),
            key,
            centre,
            float(self.mask_ratio.value()),
            int(self.seed.value()),
            self.attention_combo.currentData(),
            self.weights_path(),
            session.fields,
            cancel=cancel,
            on_result=self._done,
            on_error=self._errored,
            on_finished=self._finished,
        )
        return True

    # --- worker signals --------------------------------------------------------------
    def _done(self, inspection: Inspection) -> None:
        session = self.state.session
        if session is None or field_key(session) != inspection.key:
            self.status.setText("The field changed while computing; run again.")
            return
        self.last = inspection
        show_inspection(self.viewer, inspection)
        self.status.setText(inspection.summary)

    def _errored(self, error: BaseException) -> None:
        self.fail(one_line(error))

    def _finished(self) -> None:
        self.run_button.setEnabled(True)

    # --- reactions -------------------------------------------------------------------

    def _session_changed(self, session: Any) -> None:
        self.cell_label.setText("none")
        self.status.setText(NO_PLATE if session is None else "Select a cell, then Run.")

    def _selection_changed(self, selected: list[tuple[str, str, int, int]]) -> None:
        if selected:
            plate, well, site, label = selected[-1]
            self.cell_label.setText(f"{well} site {site}, cell {label}")
            self.mode_combo.setCurrentIndex(MODES.index("cell"))
        else:
            self.cell_label.setText("none")

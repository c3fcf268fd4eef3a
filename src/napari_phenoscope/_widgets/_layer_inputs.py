"""The Profile dock's inputs picked from the viewer's layers (a magicgui form).

Five Image layers matched to DNA, ER, RNA, AGP and Mito by name (or chosen by hand), and
the cells to profile: segmented by Phenoscope, or any Labels layer of the viewer (a
cellpose or StarDist result, Phenoscope's own ``cells`` layer after painting, a mask drawn
by hand), with an optional Labels layer of nuclei. The choices follow the viewer's layer
list; the arrays are copied when a run starts, so painting during a run changes the next.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, Container

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.errors import LabelsError
from napari_phenoscope.session.channel_layers import matching_layer

#: The "cells" choice that segments the field (the default).
SEGMENT = "segment (Phenoscope)"


def _is_image(layer: Any) -> bool:
    return layer.__class__.__name__ == "Image" and not getattr(layer, "rgb", False)


def _is_labels(layer: Any) -> bool:
    return layer.__class__.__name__ == "Labels"


class LayerInputs(Container):
    """Pickers for the five channel layers, the cells and the nuclei of a viewer.

    Parameters
    ----------
    viewer
        The viewer whose layers are offered.
    """

    def __init__(self, viewer: Any) -> None:
        self._viewer = viewer
        self.channel_pickers = {
            channel: ComboBox(
                name=channel,
                label=channel,
                choices=self._image_choices,
                nullable=channel != "DNA",  # a missing stain is read as zeros; DNA never
                tooltip=f"Image layer of the {channel} stain (matched by name)",
            )
            for channel in CHANNELS
        }
        self.cells_picker = ComboBox(
            name="cells",
            label="Cells",
            choices=self._cells_choices,
            tooltip="Segment the field, or profile the cells of a Labels layer as they are "
            "(painted, erased or split by hand, or made by cellpose, StarDist, CellProfiler)",
        )
        self.nuclei_picker = ComboBox(
            name="nuclei",
            label="Nuclei",
            choices=self._nuclei_choices,
            nullable=True,
            tooltip="Optional Labels layer of nuclei, for a Labels layer of cells; without "
            "one each cell is its own nucleus",
        )
        super().__init__(
            widgets=[*self.channel_pickers.values(), self.cells_picker, self.nuclei_picker],
            labels=True,
        )
        # Qt's signal, not magicgui's ``changed``: that one is silent when set back to None
        self.cells_picker.native.currentIndexChanged.connect(self._offer_nuclei)
        events = viewer.layers.events
        layer_events = (events.inserted, events.removed, events.reordered)
        for event in layer_events:
            event.connect(self.follow_layers)
        # the layer list outlives the dock: stop offering layers to widgets that are gone
        self.native.destroyed.connect(
            lambda *_: [event.disconnect(self.follow_layers) for event in layer_events]
        )
        self.follow_layers()

    # --- choices ---------------------------------------------------------------------
    def _image_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in self._viewer.layers if _is_image(layer)]

    def _labels_layer_choices(self) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in self._viewer.layers if _is_labels(layer)]

    def _cells_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return [(SEGMENT, None), *self._labels_layer_choices()]

    def _nuclei_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return self._labels_layer_choices()

    def follow_layers(self, _event: Any = None) -> None:
        """Offer the viewer's layers; match each unset channel to its layer by name."""
        self.reset_choices()
        images = [layer for _, layer in self._image_choices()]
        for channel, picker in self.channel_pickers.items():
            if picker.value is None:
                match = matching_layer(channel, images)
                if match is not None:
                    picker.value = match
        self._offer_nuclei()

    def _offer_nuclei(self, _value: Any = None) -> None:
        self.nuclei_picker.enabled = self.cells_picker.value is not None

    # --- values ----------------------------------------------------------------------
    @property
    def uses_labels(self) -> bool:
        """Whether the cells come from a Labels layer (not segmented by Phenoscope)."""
        return self.cells_picker.value is not None

    def field_image(self) -> np.ndarray:
        """The picked channel layers as one (5, Y, X) field in ``CHANNELS`` order (copied;
        zeros for an unpicked stain).

        Raises
        ------
        LabelsError
            If DNA is not picked, a layer is not 2-D, or the layers differ in shape.
        """
        planes: dict[str, np.ndarray] = {}
        for channel, picker in self.channel_pickers.items():
            layer = picker.value
            if layer is None:
                continue
            data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
            plane = np.asarray(data)
            if plane.ndim != 2:
                raise LabelsError(
                    f"layer {layer.name!r} ({channel}) is {plane.ndim}-D; pick a 2-D image"
                )
            planes[channel] = plane
        if "DNA" not in planes:
            raise LabelsError("pick the DNA image layer (nuclei are found and cropped on it)")
        shapes = {plane.shape for plane in planes.values()}
        if len(shapes) > 1:
            listing = ", ".join(f"{c} {p.shape}" for c, p in planes.items())
            raise LabelsError(f"the picked image layers differ in shape: {listing}")
        (shape,) = shapes
        dtype = np.result_type(*planes.values())
        return np.stack([planes.get(c, np.zeros(shape, dtype)).astype(dtype) for c in CHANNELS])

    def given_labels(self) -> tuple[np.ndarray, np.ndarray | None, str]:
        """Copies of the picked cells (and nuclei) layers' data, and the cells layer's name."""
        cells_layer = self.cells_picker.value
        if cells_layer is None:
            raise LabelsError("no Labels layer picked for the cells")
        nuclei_layer = self.nuclei_picker.value
        nuclei = None if nuclei_layer is None else np.array(nuclei_layer.data, copy=True)
        return np.array(cells_layer.data, copy=True), nuclei, cells_layer.name

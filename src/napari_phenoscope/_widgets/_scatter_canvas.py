"""A matplotlib scatter in Qt for the Profile map: toolbar, legend, click and lasso, rings.

It knows points only by their index: the dock maps indices to cells. Rings around the
highlighted points are blitted over a saved background, so that a click repaints a few
rings instead of 20 000 points.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.widgets import LassoSelector
from qtpy.QtWidgets import QVBoxLayout, QWidget

from napari_phenoscope.profiling.embedding_map import PointColours, nearest_point, points_in_polygon

CLICK_TOLERANCE_PX = 6.0


class ScatterCanvas(QWidget):
    """Points in a zoomable, exportable figure; clicks and lassos report point indices.

    Parameters
    ----------
    on_select
        Called with the indices of the points clicked (one, or none on empty space) or
        lassoed.
    """

    def __init__(self, on_select: Callable[[list[int]], None]) -> None:
        super().__init__()
        self.on_select = on_select
        self.embedding: np.ndarray | None = None
        self.highlighted = np.zeros(0, dtype=np.intp)
        self.figure = Figure(figsize=(4, 4), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(320)
        self.toolbar = NavigationToolbar2QT(self.canvas, self)  # zoom, pan, save PNG/SVG
        self.axes = self.figure.add_subplot(111)
        self.highlight_artist: Any = None
        self._background: Any = None  # the figure without its rings, for blitting
        self.lasso: LassoSelector | None = None
        self._lasso_on = False
        self.canvas.mpl_connect("button_press_event", self._on_press)
        self.canvas.mpl_connect("draw_event", self._on_draw)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas, stretch=1)
        self.show_empty()

    def show_empty(self, text: str = "no map yet") -> None:
        """Clear the figure and say why it is empty."""
        self.embedding = None
        self.highlight_artist = None
        self.axes.clear()
        self.axes.set_xticks([])
        self.axes.set_yticks([])
        self.axes.text(0.5, 0.5, text, ha="center", va="center", color="grey")
        self.canvas.draw_idle()

    def show_points(
        self, embedding: np.ndarray, colours: PointColours, legend_title: str, title: str
    ) -> None:
        """Draw (n, 2) points in their colours, with a legend, keeping the highlight."""
        self.embedding = embedding
        axes = self.axes
        axes.clear()
        self._background = None  # until the next full draw saves a new one
        size = float(np.clip(30_000 / max(len(embedding), 1), 2, 40))
        # a seeded shuffled drawing order: no category is always painted over the others
        order = np.random.default_rng(0).permutation(len(embedding))
        axes.scatter(
            embedding[order, 0], embedding[order, 1], c=colours.rgba[order], s=size, linewidths=0
        )
        self.highlight_artist = axes.scatter(
            [], [], s=size * 4 + 20, facecolors="none", edgecolors="black", linewidths=1.5
        )
        self.highlight_artist.set_animated(True)  # drawn by blitting, see _on_draw
        self.highlight_artist.set_offsets(embedding[self._valid(self.highlighted)].reshape(-1, 2))
        handles = [
            Line2D([], [], marker="o", linestyle="", color=rgba[:3], label=label)
            for label, rgba in colours.legend
        ]
        axes.legend(
            handles=handles,
            title=legend_title,
            fontsize=7,
            title_fontsize=7,
            loc="best",
            framealpha=0.8,
        )
        axes.set_xlabel("UMAP 1")
        axes.set_ylabel("UMAP 2")
        axes.set_title(title, fontsize=9)
        axes.set_xticks([])
        axes.set_yticks([])
        if self.lasso is not None:
            self.lasso.disconnect_events()
        self.lasso = LassoSelector(axes, onselect=self._lasso_done)
        self.lasso.set_active(self._lasso_on)
        self.canvas.draw_idle()

    def _valid(self, indices: np.ndarray) -> np.ndarray:
        count = 0 if self.embedding is None else len(self.embedding)
        return indices[(indices >= 0) & (indices < count)]

    def set_highlight(self, indices: np.ndarray) -> None:
        """Ring the points ``indices`` (repainting only the rings)."""
        self.highlighted = np.asarray(indices, dtype=np.intp)
        if self.highlight_artist is None or self.embedding is None:
            return
        offsets = self.embedding[self._valid(self.highlighted)].reshape(-1, 2)
        self.highlight_artist.set_offsets(offsets)
        if self._background is None:
            self.canvas.draw_idle()
            return
        self.canvas.restore_region(self._background)
        self.axes.draw_artist(self.highlight_artist)
        self.canvas.blit(self.figure.bbox)

    def _on_draw(self, _event: Any) -> None:
        """After a full draw: save the background, then paint the rings over it."""
        if self.highlight_artist is None:
            self._background = None
            return
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        self.axes.draw_artist(self.highlight_artist)

    def set_lasso(self, active: bool) -> None:
        """Turn the lasso on (clicks then draw lassos) or off (clicks pick points)."""
        self._lasso_on = active
        if active and self.toolbar.mode:  # leave zoom / pan so that drags reach the lasso
            self.toolbar.pan() if "pan" in str(self.toolbar.mode) else self.toolbar.zoom()
        if self.lasso is not None:
            self.lasso.set_active(active)

    def _on_press(self, event: Any) -> None:
        if (
            self.embedding is None
            or event.inaxes is not self.axes
            or self.toolbar.mode
            or self._lasso_on
        ):
            return
        pixels = self.axes.transData.transform(self.embedding)
        index = nearest_point(pixels, (event.x, event.y), CLICK_TOLERANCE_PX)
        self.on_select([] if index is None else [index])

    def _lasso_done(self, vertices: list[tuple[float, float]]) -> None:
        if self.embedding is not None:
            self.on_select(points_in_polygon(self.embedding, vertices).tolist())

    def export(self, path: str | Path) -> Path:
        """Save the figure, rings included, as PNG or SVG (by the file suffix)."""
        path = Path(path)
        artist = self.highlight_artist
        if artist is not None:
            artist.set_animated(False)  # animated artists are left out of savefig
        try:
            self.figure.savefig(path, dpi=150)
        finally:
            if artist is not None:
                artist.set_animated(True)
                self.canvas.draw_idle()
        return path

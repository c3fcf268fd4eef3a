# Long (~460 lines): drawing a million points interactively needs its own raster, legend,
# lasso and hit testing in one widget; the point index it hits is in profile_map/points.py.
"""A matplotlib scatter in Qt for the Profile map: toolbar, legend, click and lasso, rings.

It knows points only by their index: the dock maps indices to cells. Up to
``RASTER_ABOVE`` points are markers; larger maps are drawn as an image of every point,
re-rendered for the visible window when a pan or zoom draws the figure
(``points.rasterise``, once per draw however many limits changed). Clicks and lassos
search a ``PointLocator`` (a grid index) instead of testing every point. Rings around the
highlighted points (or, beyond ``MAX_RINGS``, an image of them) are blitted over a saved
background of the axes, so that a click repaints the rings, not the million points.

The figure takes napari's theme (``apply_theme``), explains its colours with a legend or a
colour bar, and marks and labels named points (``set_marks``: a query, its targets, a match).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.widgets import LassoSelector
from qtpy.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from napari_phenoscope._widgets._pixel_image import PixelImage
from napari_phenoscope._widgets._theme import Theme
from napari_phenoscope.profile_map.colours import PointColours
from napari_phenoscope.profile_map.labels import place_labels
from napari_phenoscope.profile_map.points import PointLocator, footprint, rasterise, spread_for

CLICK_TOLERANCE_PX = 6.0
#: Maps of more points are drawn as an image of all of them rather than as markers.
RASTER_ABOVE = 50_000
#: More highlighted points than this are shown as an image rather than rings.
MAX_RINGS = 2_000
_HIGHLIGHT_RGBA = (255, 230, 0, 255)
_HIGHLIGHT_COLOUR = "#ffe600"  # rings around selected points: yellow, as the cell outlines
#: Marker, size and edge colour per mark role; points of one role share one label.
MARK_STYLES = {
    "query": {"marker": "*", "s": 260, "color": "#ffffff"},
    "target": {"marker": "D", "s": 90, "color": "#ffd666"},
    "match": {"marker": "s", "s": 110, "color": "#5bc0ff"},
}
MAX_MARKED = 400  # points drawn per mark: a million-cell map marks a sample of them
#: Labels are placed in this order (the first keeps the usual place, up and right).
_LABEL_ORDER = ("query", "target", "match")
_LABEL_FONT_PT = 8


@dataclass(frozen=True)
class Mark:
    """Points to mark in one ``role`` of ``MARK_STYLES``, labelled ``label``."""

    role: str
    label: str
    indices: np.ndarray


class ScatterCanvas(QWidget):
    """Points in a zoomable, exportable figure; clicks and lassos report point indices.

    Parameters
    ----------
    on_select
        Called with the indices of the points clicked (a list: one, or none on empty
        space) or lassoed (a sorted array).
    """

    def __init__(self, on_select: Callable[[Sequence[int]], None]) -> None:
        super().__init__()
        self.on_select = on_select
        self.embedding: np.ndarray | None = None
        self.highlighted = np.zeros(0, dtype=np.intp)
        self.figure = Figure(figsize=(4, 4), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(320)
        self.theme = Theme()
        self.marks: list[Mark] = []
        self._mark_artists: list[Any] = []
        self._colourbar: Any = None
        self.toolbar = NavigationToolbar2QT(self.canvas, self)  # zoom, pan, save PNG/SVG
        self.axes = self.figure.add_subplot(111)
        self.highlight_artist: Any = None
        self.points_image: Any = None  # the map drawn as an image (large maps)
        self.highlight_image: Any = None  # many highlighted points, drawn as an image
        self.locator: PointLocator | None = None
        self._rgb: np.ndarray | None = None
        self._rendered_view: Any = None  # the (extent, shape) the point image shows
        self._spread = 1  # pixels per point side in the point image
        self._background: Any = None  # the figure without its rings, for blitting
        self.lasso: LassoSelector | None = None
        self._lasso_on = False
        self.canvas.mpl_connect("button_press_event", self._on_press)
        self.canvas.mpl_connect("draw_event", self._on_draw)
        # Expanding: napari then adds no stretch under the dock, and the map fills it
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas, stretch=1)
        self.show_empty()

    def apply_theme(self, theme: Theme) -> None:
        """Paint the figure in ``theme``'s colours (napari's dark or light theme)."""
        self.theme = theme
        self.figure.set_facecolor(theme.background)
        self._style_axes()
        self.canvas.draw_idle()

    def _style_axes(self) -> None:
        axes, theme = self.axes, self.theme
        axes.set_facecolor(theme.background)
        for spine in axes.spines.values():
            spine.set_color(theme.muted)
        axes.xaxis.label.set_color(theme.text)
        axes.yaxis.label.set_color(theme.text)
        axes.title.set_color(theme.text)

    def _drop_colourbar(self) -> None:
        if self._colourbar is not None:
            self._colourbar.remove()
            self._colourbar = None

    def show_empty(self, text: str = "no map yet") -> None:
        """Clear the figure and say why it is empty."""
        self.embedding = None
        self.highlight_artist = self.points_image = self.highlight_image = None
        self.locator = None
        self._mark_artists = []
        self._drop_lasso()
        self._drop_colourbar()
        self.axes.clear()
        self._style_axes()
        self.axes.set_xticks([])
        self.axes.set_yticks([])
        self.axes.text(0.5, 0.5, text, ha="center", va="center", color=self.theme.muted)
        self.canvas.draw_idle()

    def show_points(
        self,
        embedding: np.ndarray,
        colours: PointColours,
        legend_title: str,
        title: str,
        locator: PointLocator | None = None,
    ) -> None:
        """Draw (n, 2) points in their colours, with a legend, keeping the highlight.

        ``locator`` (a :class:`PointLocator` of ``embedding``) is built here when not given.
        """
        self.embedding = embedding
        self.locator = locator if locator is not None else PointLocator(embedding)
        axes = self.axes
        axes.clear()
        self._drop_colourbar()
        self._style_axes()
        self._background = None  # until the next full draw saves a new one
        self.points_image = self.highlight_image = None
        size = float(np.clip(30_000 / max(len(embedding), 1), 2, 40))
        if len(embedding) > RASTER_ABOVE:
            self._rgb = np.asarray(colours.rgba, dtype=np.float32)[:, :3]
            self._show_image(embedding)
        else:
            # a seeded shuffled drawing order: no category is always painted over the others
            order = np.random.default_rng(0).permutation(len(embedding))
            axes.scatter(
                embedding[order, 0],
                embedding[order, 1],
                c=colours.rgba[order],
                s=size,
                linewidths=0,
            )
        self.highlight_artist = axes.scatter(
            [], [], s=size * 4 + 20, facecolors="none", edgecolors=_HIGHLIGHT_COLOUR, linewidths=1.5
        )
        self.highlight_artist.set_animated(True)  # drawn by blitting, see _on_draw
        self.highlight_artist.set_in_layout(False)  # rings at the edge must not move the axes
        self._place_highlight()
        if colours.numeric:
            self._show_colourbar(colours, legend_title)
        else:
            self._show_legend(colours, legend_title)
        axes.set_xlabel("UMAP 1")
        axes.set_ylabel("UMAP 2")
        axes.set_title(title, fontsize=9)
        axes.set_xticks([])
        axes.set_yticks([])
        self._draw_marks()
        self._drop_lasso()  # axes.clear() removed its line
        if self._lasso_on:
            self._make_lasso()
        self.canvas.draw_idle()

    def _show_legend(self, colours: PointColours, title: str) -> None:
        """Categories: a legend below the map, as wide as the map, so it hides no point."""
        handles = [
            Line2D([], [], marker="o", linestyle="", color=rgba[:3], label=label)
            for label, rgba in colours.legend
        ]
        legend = self.figure.legend(
            handles=handles,
            title=title,
            fontsize=7,
            title_fontsize=7,
            loc="outside lower center",
            ncols=min(3, max(1, len(handles))),
            frameon=False,
            labelcolor=self.theme.text,
        )
        legend.get_title().set_color(self.theme.text)
        self._colourbar = legend  # removed with the next drawing, as a colour bar is

    def _show_colourbar(self, colours: PointColours, title: str) -> None:
        """Numbers: a viridis colour bar from the column's lowest to highest value."""
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        low, high = (float(label) for label, _ in colours.legend[:2])
        mappable = ScalarMappable(Normalize(low, high), "viridis")
        bar = self.figure.colorbar(mappable, ax=self.axes, location="bottom", shrink=0.8)
        bar.set_label(title, color=self.theme.text, fontsize=7)
        bar.ax.tick_params(colors=self.theme.text, labelsize=7)
        bar.outline.set_edgecolor(self.theme.muted)
        self._colourbar = bar

    def set_marks(self, marks: list[Mark]) -> None:
        """Mark and label points by role (query, target, match), replacing earlier marks."""
        self.marks = list(marks)
        if self.embedding is None:
            return
        for artist in self._mark_artists:
            artist.remove()
        self._draw_marks()
        self.canvas.draw_idle()

    def _draw_marks(self) -> None:
        """One marker per marked point (a sample of ``MAX_MARKED``) and one label per mark,
        at its point nearest the middle of them, in a box that reads over any colour."""
        self._mark_artists = []
        labels: list[tuple[Mark, np.ndarray]] = []
        for mark in self.marks:
            chosen = self._valid(np.asarray(mark.indices, dtype=np.intp))
            if not len(chosen):
                continue
            style = MARK_STYLES[mark.role]
            points = self.embedding[chosen[:MAX_MARKED]]
            self._mark_artists.append(
                self.axes.scatter(
                    points[:, 0],
                    points[:, 1],
                    marker=style["marker"],
                    s=style["s"],
                    facecolors="none",
                    edgecolors=style["color"],
                    linewidths=1.8,
                    zorder=4,
                )
            )
            # the label points at the marked point nearest their middle (never at empty space)
            middle = np.median(points, axis=0)
            labels.append((mark, points[np.argmin(np.linalg.norm(points - middle, axis=1))]))
        self._draw_labels(labels)

    def _draw_labels(self, labels: list[tuple[Mark, np.ndarray]]) -> None:
        """Labels with thin leader lines, placed so that none hides another (in points,
        query first, then targets, then the match: ``profile_map.labels.place_labels``)."""
        labels = sorted(labels, key=lambda item: _LABEL_ORDER.index(item[0].role))
        if not labels:
            return
        to_points = 72.0 / self.figure.dpi
        anchors = np.array([self.axes.transData.transform(xy) for _, xy in labels])
        # box size estimated from the text: about 0.62 em per character, one line plus pad
        sizes = np.array(
            [
                [0.62 * _LABEL_FONT_PT * len(mark.label) + 4, _LABEL_FONT_PT * 1.4 + 3]
                for mark, _ in labels
            ]
        )
        bounds = tuple(np.asarray(self.axes.bbox.extents) * to_points)  # labels stay inside
        offsets = place_labels(anchors * to_points, sizes, bounds=bounds)
        for (mark, xy), (dx, dy) in zip(labels, offsets, strict=True):
            style = MARK_STYLES[mark.role]
            self._mark_artists.append(
                self.axes.annotate(
                    mark.label,
                    xy=xy,
                    xytext=(dx, dy),
                    textcoords="offset points",
                    ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
                    va="bottom" if dy > 0 else ("top" if dy < 0 else "center"),
                    fontsize=_LABEL_FONT_PT,
                    fontweight="bold" if mark.role == "query" else "normal",
                    color="black",
                    bbox={"boxstyle": "round,pad=0.2", "fc": style["color"], "ec": "none"},
                    arrowprops={"arrowstyle": "-", "color": style["color"], "lw": 0.8},
                    zorder=5,
                    annotation_clip=False,
                )
            )

    def _show_image(self, embedding: np.ndarray) -> None:
        """Draw the map as an image, re-rendered whenever a draw shows another window."""
        axes = self.axes
        low, high = embedding.min(axis=0), embedding.max(axis=0)
        margin = 0.03 * np.maximum(high - low, 1e-6)
        axes.set_xlim(low[0] - margin[0], high[0] + margin[0])
        axes.set_ylim(low[1] - margin[1], high[1] + margin[1])
        axes.set_autoscale_on(False)
        self._rendered_view = None
        self.points_image = PixelImage(self._render_if_moved, zorder=1)
        self.highlight_image = PixelImage(zorder=3)
        for image in (self.points_image, self.highlight_image):
            axes.add_artist(image)
        self.highlight_image.set_animated(True)
        self._render()

    def _render_if_moved(self, magnification: float = 1.0) -> None:
        if self._view(magnification) != self._rendered_view:
            self._render(magnification)

    def _view(
        self, magnification: float = 1.0
    ) -> tuple[tuple[float, float, float, float], tuple[int, int]]:
        """The visible window (x0, x1, y0, y1) and the axes' size in pixels (rows, cols) at
        the renderer's image ``magnification``."""
        (x0, x1), (y0, y1) = self.axes.get_xlim(), self.axes.get_ylim()
        box = self.axes.get_window_extent()
        rows, columns = int(box.height * magnification), int(box.width * magnification)
        return (x0, x1, y0, y1), (max(rows, 1), max(columns, 1))

    def _render(self, magnification: float = 1.0) -> None:
        """Re-render the point image (and the highlight image) for the visible window."""
        if self.points_image is None or self.embedding is None or self.locator is None:
            return
        view = self._view(magnification)
        extent, shape = view
        points, rgb = self.embedding, self._rgb
        if not self.locator.shows_all(*extent):  # zoomed in: only the points on show
            visible = self.locator.in_box(*extent)
            points, rgb = points[visible], rgb[visible]
        self._spread = spread_for(len(points), shape)
        # a seeded shuffled order would not matter: pixels show the mean of their points
        self.points_image.set_data(rasterise(points, rgb, extent, shape, self._spread), extent)
        self._rendered_view = view
        self._render_highlight()

    def _render_highlight(self) -> None:
        """The image of the highlighted points, for the view the point image shows."""
        if self.highlight_image is None or self.embedding is None or not self._rendered_view:
            return
        extent, shape = self._rendered_view
        chosen = self._valid(self.highlighted)
        if len(chosen) <= MAX_RINGS:
            self.highlight_image.set_data(np.zeros((0, 0, 4), dtype=np.uint8), extent)
            return
        covered = footprint(self.embedding[chosen], extent, shape, self._spread)
        image = np.zeros((*shape, 4), dtype=np.uint8)
        image[covered] = _HIGHLIGHT_RGBA
        self.highlight_image.set_data(image, extent)

    def _valid(self, indices: np.ndarray) -> np.ndarray:
        count = 0 if self.embedding is None else len(self.embedding)
        return indices[(indices >= 0) & (indices < count)]

    def _place_highlight(self) -> None:
        """Rings at the highlighted points, or the image of them when there are many."""
        chosen = self._valid(self.highlighted)
        rings = chosen if len(chosen) <= MAX_RINGS else chosen[:0]
        self.highlight_artist.set_offsets(self.embedding[rings].reshape(-1, 2))
        self._render_highlight()

    def set_highlight(self, indices: np.ndarray) -> None:
        """Ring the points ``indices`` (repainting only the rings)."""
        self.highlighted = np.asarray(indices, dtype=np.intp)
        if self.highlight_artist is None or self.embedding is None:
            return
        self._place_highlight()
        if self._background is None:
            self.canvas.draw_idle()
            return
        self.canvas.restore_region(self._background)
        self._draw_highlight()
        self.canvas.blit(self.axes.bbox)  # the rings never leave the axes

    def _draw_highlight(self) -> None:
        if self.highlight_image is not None:
            self.axes.draw_artist(self.highlight_image)
        self.axes.draw_artist(self.highlight_artist)

    def _on_draw(self, _event: Any) -> None:
        """After a full draw: save the background, then paint the rings over it."""
        if self.highlight_artist is None:
            self._background = None
            return
        self._background = self.canvas.copy_from_bbox(self.axes.bbox)
        self._draw_highlight()

    def set_lasso(self, active: bool) -> None:
        """Turn the lasso on (clicks then draw lassos) or off (clicks pick points)."""
        self._lasso_on = active
        if active and self.toolbar.mode:  # leave zoom / pan so that drags reach the lasso
            self.toolbar.pan() if "pan" in str(self.toolbar.mode) else self.toolbar.zoom()
        self._drop_lasso()
        if active:
            self._make_lasso()

    def _make_lasso(self) -> None:
        # Only while the lasso is on: a blitting selector redraws the whole figure after
        # every draw to save its background (twice the cost of a pan of a million points).
        if self.embedding is not None:
            self.lasso = LassoSelector(self.axes, onselect=self._lasso_done)

    def _drop_lasso(self) -> None:
        if self.lasso is None:
            return
        self.lasso.disconnect_events()
        line = self.lasso.artists[0]
        if line in self.axes.lines:  # gone already if the axes were cleared
            line.remove()
        self.lasso = None

    def _on_press(self, event: Any) -> None:
        if (
            self.embedding is None
            or self.locator is None
            or event.inaxes is not self.axes
            or self.toolbar.mode
            or self._lasso_on
        ):
            return
        to_display = self.axes.transData.transform
        to_data = self.axes.transData.inverted().transform
        target = (event.x, event.y)
        index = self.locator.nearest(target, to_display, to_data, CLICK_TOLERANCE_PX)
        self.on_select([] if index is None else [index])

    def _lasso_done(self, vertices: list[tuple[float, float]]) -> None:
        if self.locator is not None:
            self.on_select(self.locator.in_polygon(vertices))

    def export(self, path: str | Path) -> Path:
        """Save the figure, rings included, as PNG or SVG (by the file suffix)."""
        path = Path(path)
        artists = [a for a in (self.highlight_image, self.highlight_artist) if a is not None]
        for artist in artists:
            artist.set_animated(False)  # animated artists are left out of savefig
        try:
            self.figure.savefig(path, dpi=150)
        finally:
            for artist in artists:
                artist.set_animated(True)
            if artists:
                self.canvas.draw_idle()
        return path

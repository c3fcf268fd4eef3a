"""An image artist drawn pixel for pixel over the axes: the Profile map's point layers.

matplotlib's ``AxesImage`` resamples its data at every draw, tens of milliseconds for an
image the size of the axes, paid by every pan and by every blit of a selection. The map's
images are rendered at the axes' size in pixels already, so this one is only composited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.artist import Artist

Extent = tuple[float, float, float, float]


class PixelImage(Artist):
    """RGBA pixels (row 0 at the bottom) covering the axes exactly.

    Parameters
    ----------
    before_draw
        Called with the renderer's image magnification (1 on screen, dpi / 72 for a vector
        export) before each draw: the owner re-renders the pixels there when the view or
        the resolution changed.
    zorder
        Drawing order among the axes' artists.
    """

    def __init__(
        self, before_draw: Callable[[float], None] | None = None, zorder: float = 1
    ) -> None:
        super().__init__()
        self.before_draw = before_draw
        self.set_zorder(zorder)
        self.set_in_layout(False)  # never moves the axes in tight_layout
        self._rgba = np.zeros((0, 0, 4), dtype=np.uint8)
        self._extent: Extent = (0.0, 1.0, 0.0, 1.0)

    def set_data(self, rgba: np.ndarray, extent: Extent) -> None:
        """Show ``rgba`` ((rows, columns, 4) uint8), rendered for the data window ``extent``."""
        self._rgba = np.asarray(rgba, dtype=np.uint8)
        self._extent = tuple(float(v) for v in extent)
        self.stale = True

    def get_array(self) -> np.ndarray:
        """The pixels shown, row 0 at the bottom."""
        return self._rgba

    def get_extent(self) -> Extent:
        """The data window (x0, x1, y0, y1) the pixels were rendered for."""
        return self._extent

    def draw(self, renderer: Any) -> None:
        if not self.get_visible():
            return
        if self.before_draw is not None:
            self.before_draw(renderer.get_image_magnification())
        if self._rgba.size:
            box = self.axes.bbox
            gc = renderer.new_gc()
            gc.set_clip_rectangle(box)
            # Agg's draw_image flips rows itself: row 0 lands at the bottom (y0), as ours
            renderer.draw_image(gc, box.x0, box.y0, self._rgba)
            gc.restore()
        self.stale = False

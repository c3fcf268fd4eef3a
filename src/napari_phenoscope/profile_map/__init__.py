"""The UMAP of profiles, without Qt: the layout of its points and finding them again.

``layout`` computes a seeded, cached UMAP of cells or wells (a sample and neighbour
placement beyond ``UmapParams.fit_rows`` rows), cancellable; ``points`` draws and picks a
million points without a GPU (rasterizing, a grid locator). The Profile map dock
(``_widgets/profile_map.py``) shows what these return; ``phenoscope export`` writes the
layout. It needs only ``io`` and ``constants``, so it sits low in the house.
"""

from napari_phenoscope.profile_map.layout import (
    EmbeddingCache,
    MapCancelled,
    UmapParams,
    cached_umap,
    compute_umap,
)
from napari_phenoscope.profile_map.points import PointLocator, rasterize

__all__ = [
    "EmbeddingCache",
    "MapCancelled",
    "PointLocator",
    "UmapParams",
    "cached_umap",
    "compute_umap",
    "rasterize",
]

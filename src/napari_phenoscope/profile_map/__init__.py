"""The UMAP of profiles, without Qt: the layout of its points and finding them again.

``layout`` computes a seeded, cached UMAP of cells or wells (a sample and neighbour
placement beyond ``UmapParams.fit_rows`` rows), cancellable; ``points`` draws and picks a
million points without a GPU (rasterizing, a grid locator, click and lasso tests);
``colours`` colours them by a column, with a legend. Each point's key (plate, well, site,
label) comes from ``io.join_keys``. The Profile map dock (``_widgets/profile_map.py``)
shows what these return; ``phenoscope export`` writes the layout. It needs only ``io`` and
``constants``, so it sits low in the house.
"""

from napari_phenoscope.profile_map.colours import PointColours, point_colours
from napari_phenoscope.profile_map.layout import (
    EmbeddingCache,
    MapCancelled,
    UmapParams,
    cached_umap,
    compute_umap,
)
from napari_phenoscope.profile_map.points import (
    PointLocator,
    nearest_point,
    points_in_polygon,
    rasterise,
)

__all__ = [
    "EmbeddingCache",
    "MapCancelled",
    "PointColours",
    "PointLocator",
    "UmapParams",
    "cached_umap",
    "compute_umap",
    "nearest_point",
    "point_colours",
    "points_in_polygon",
    "rasterise",
]

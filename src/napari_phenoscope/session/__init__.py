"""The headless state the docks share: the open plate, its cells and profiles, the selection.

``state`` holds the ``PlateSession`` (plain Python with psygnal events that only this
package fires, no Qt), ``compute`` profiles fields for it and loads pipeline outputs into
it, ``inspect`` runs the MAE inspection of a field or a cell. What each dock computes lives
here too, named for what it computes: ``map_layout`` (Profile map), ``ranking_request`` (Similar
perturbations), ``retrieval`` (Retrieval), ``comparison_request`` (Compare), ``opening``,
``positions`` and ``channel_layers``. Scripts and tests use it without a viewer.
"""

from napari_phenoscope.session.state import (
    PlateSession,
    PlateSessionEvents,
    SessionEvents,
    ViewerState,
    state_of,
)

__all__ = ["PlateSession", "PlateSessionEvents", "SessionEvents", "ViewerState", "state_of"]

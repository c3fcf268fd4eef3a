"""Applications that open a napari viewer and drive the docks: the demo's viewer, the tour.

Above ``_widgets/``: the data and the story of the demo are in ``demo/``; this package only
opens a viewer, adds the docks and calls their public methods.
"""

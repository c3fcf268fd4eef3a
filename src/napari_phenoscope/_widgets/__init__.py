"""napari dock widgets: thin Qt shells over the pure modules of the package."""

"""napari-phenoscope: visual image-based profiling of Cell Painting plates."""

__version__ = "0.1.0"

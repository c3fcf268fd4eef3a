"""The demo plates: JUMP-Target-1 layouts rendered as CPJUMP1-format projects.

``design`` holds the phenotypes (which perturbation looks like which gene's loss, plate and
edge effects), ``render`` draws one field, ``project`` writes and caches the project,
``story`` finds BI-2536 in it, and ``job`` runs the ``phenoscope demo`` job headless.
"""

from napari_phenoscope.demo.design import BI_2536, barcode
from napari_phenoscope.demo.project import (
    DemoField,
    DemoManifest,
    DemoPlate,
    default_cache_dir,
    demo_well_field,
    ensure_demo_plates,
    perturbation_latent,
    read_demo_manifest,
    render_field,
    select_wells,
    write_demo_plates,
)

__all__ = [
    "BI_2536",
    "DemoField",
    "DemoManifest",
    "DemoPlate",
    "barcode",
    "default_cache_dir",
    "demo_well_field",
    "ensure_demo_plates",
    "perturbation_latent",
    "read_demo_manifest",
    "render_field",
    "select_wells",
    "write_demo_plates",
]

"""Plates in, field indexes and well metadata out.

``index_plate`` (``plates.py``) accepts a project folder (with ``images/`` and
``metadata/``), a Cell Painting Gallery source / batch / plate folder, a plate's image folder,
a CellProfiler ``load_data.csv(.gz)``, an OME-Zarr HCS plate or a single multi-channel TIFF,
and returns the same LoadData-shaped field index for each; ``read_field`` /
``lazy_channel_stack`` read pixels from it (illumination-corrected when the index lists
illumination functions);
``read_well_metadata`` (CPJUMP1 plate maps), ``load_metadata`` (any table, or JUMP's
metadata folder) and ``apply_negcon`` annotate wells with perturbations and controls.
``iter_fields`` walks an index field by field (the one field loop). ``s3://`` plates are
indexed and read in place, their objects fetched once into a bounded cache (``remote``).
"""

from __future__ import annotations

from napari_phenoscope.io.fields import (
    Field,
    available_channels,
    channel_path,
    describe_field,
    iter_fields,
    lazy_channel_stack,
    read_channel,
    read_field,
)
from napari_phenoscope.io.gallery import (
    find_load_data_csvs,
    index_gallery,
    index_remote_gallery,
    is_gallery_path,
)
from napari_phenoscope.io.illum import (
    attach_illum_folder,
    correct_illumination,
    is_illum_corrected,
    read_illum_function,
)
from napari_phenoscope.io.loaddata import index_load_data_csv, index_multichannel_tiff
from napari_phenoscope.io.metadata import (
    annotate_wells,
    apply_negcon,
    is_jump_metadata_folder,
    join_metadata,
    load_metadata,
    read_jump_metadata,
    read_metadata_table,
)
from napari_phenoscope.io.omezarr import index_ome_zarr, is_ome_zarr
from napari_phenoscope.io.output_folder import output_folder
from napari_phenoscope.io.phenix import (
    barcode_from_path,
    filename_column,
    index_phenix_folder,
    parse_channel_map,
    pathname_column,
)
from napari_phenoscope.io.pixelsize import field_pixel_size, resolve_pixel_size, tiff_pixel_size
from napari_phenoscope.io.platemap import (
    WELL_METADATA_COLUMNS,
    find_project_root,
    join_well_metadata,
    read_well_metadata,
)
from napari_phenoscope.io.plates import index_phenix_folder_file, index_plate, is_plate_path
from napari_phenoscope.io.remote import as_url, configure_cache, is_remote, object_cache

__all__ = [
    "WELL_METADATA_COLUMNS",
    "annotate_wells",
    "apply_negcon",
    "as_url",
    "attach_illum_folder",
    "configure_cache",
    "Field",
    "available_channels",
    "barcode_from_path",
    "channel_path",
    "correct_illumination",
    "describe_field",
    "field_pixel_size",
    "filename_column",
    "find_load_data_csvs",
    "find_project_root",
    "index_gallery",
    "index_load_data_csv",
    "index_multichannel_tiff",
    "index_ome_zarr",
    "index_phenix_folder",
    "index_phenix_folder_file",
    "index_plate",
    "index_remote_gallery",
    "is_gallery_path",
    "is_illum_corrected",
    "is_jump_metadata_folder",
    "is_ome_zarr",
    "is_plate_path",
    "is_remote",
    "join_metadata",
    "iter_fields",
    "join_well_metadata",
    "lazy_channel_stack",
    "load_metadata",
    "object_cache",
    "output_folder",
    "parse_channel_map",
    "pathname_column",
    "read_channel",
    "read_field",
    "read_illum_function",
    "read_jump_metadata",
    "read_metadata_table",
    "read_well_metadata",
    "resolve_pixel_size",
    "tiff_pixel_size",
]

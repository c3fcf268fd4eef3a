"""Single source of truth for channel order, metadata column names and file-name patterns.

Every module imports these names instead of spelling strings again, so a renamed
column or a new channel changes in exactly one place.
"""

from __future__ import annotations

import re
from typing import Final

#: The five Cell Painting channels, in the fixed order used for arrays and model inputs.
CHANNELS: Final[tuple[str, ...]] = ("DNA", "ER", "RNA", "AGP", "Mito")

#: CPJUMP1 / Phenix channel numbers -> Cell Painting channel (ch6-ch8 are bright field).
CPJUMP1_CHANNEL_MAP: Final[dict[int, str]] = {1: "Mito", 2: "AGP", 3: "RNA", 4: "ER", 5: "DNA"}

#: napari colormap per channel: DNA blue as in every Cell Painting figure, the rest spread
#: over distinguishable hues so that additive blending still separates them.
CHANNEL_COLORMAPS: Final[dict[str, str]] = {
    "DNA": "blue",
    "ER": "green",
    "RNA": "cyan",
    "AGP": "red",
    "Mito": "magenta",
}

#: Phenix / Cell Painting Gallery image names, e.g. ``r01c01f01p01-ch1sk1fk1fl1.tiff``.
PHENIX_FILENAME: Final[re.Pattern[str]] = re.compile(
    r"^r(?P<row>\d{2})c(?P<col>\d{2})f(?P<site>\d{2})p(?P<plane>\d{2})"
    r"-ch(?P<channel>\d{1,2})sk\d+fk\d+fl\d+\.tiff?$",
    re.IGNORECASE,
)

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Plate row names, r01..r32 in Phenix names: A..P on a 384-well plate, and on a 1536-well
#: plate (32 x 48) A..Z then AA..AF, as Harmony, CellProfiler's plate tools and liquid
#: handlers name them (spreadsheet-style: the row after Z is AA).
ROW_LETTERS: Final[tuple[str, ...]] = (*_ALPHABET, *(f"A{letter}" for letter in _ALPHABET[:6]))
#: Most columns of a plate (1536-well: 48).
MAX_COLUMNS: Final[int] = 48

#: Stain and dye names (lower case) that name a Cell Painting channel: OME-Zarr ``omero``
#: channel labels and stain-named TIFFs use them as often as the channel names themselves.
STAIN_ALIASES: Final[dict[str, str]] = {
    "dna": "DNA",
    "hoechst": "DNA",
    "hoechst33342": "DNA",
    "dapi": "DNA",
    "er": "ER",
    "cona": "ER",
    "concanavalin": "ER",
    "concanavalina": "ER",
    "rna": "RNA",
    "syto14": "RNA",
    "syto": "RNA",
    "agp": "AGP",
    "phalloidin": "AGP",
    "wga": "AGP",
    "mito": "Mito",
    "mitotracker": "Mito",
    "mitotrackerdeepred": "Mito",
}

#: LoadData file names: ``load_data.csv`` and the ``load_data_with_illum`` variant, gzipped
#: or not, as the Cell Painting Gallery ships them.
LOAD_DATA_NAMES: Final[tuple[str, ...]] = (
    "load_data_with_illum.csv",
    "load_data_with_illum.csv.gz",
    "load_data.csv",
    "load_data.csv.gz",
)

# pycytominer / CellProfiler metadata columns.
METADATA_PREFIX: Final[str] = "Metadata_"
PLATE: Final[str] = "Metadata_Plate"
WELL: Final[str] = "Metadata_Well"
SITE: Final[str] = "Metadata_Site"
OBJECT_NUMBER: Final[str] = "Metadata_ObjectNumber"
BROAD_SAMPLE: Final[str] = "Metadata_broad_sample"
MODALITY: Final[str] = "Metadata_modality"
PERT_INAME: Final[str] = "Metadata_pert_iname"
GENE: Final[str] = "Metadata_gene"
TARGET_LIST: Final[str] = "Metadata_target_list"
PERT_TYPE: Final[str] = "Metadata_pert_type"
CONTROL_TYPE: Final[str] = "Metadata_control_type"
CELL_LINE: Final[str] = "Metadata_cell_type"
JCP2022: Final[str] = "Metadata_JCP2022"  # JUMP perturbation identifier
SOURCE: Final[str] = "Metadata_Source"
BATCH: Final[str] = "Metadata_Batch"

MODALITIES: Final[tuple[str, ...]] = ("compound", "crispr", "orf")
NEGATIVE_CONTROL: Final[str] = "negcon"

# CellProfiler object measurements written by segmentation.
CENTER_X: Final[str] = "Location_Center_X"
CENTER_Y: Final[str] = "Location_Center_Y"
NUCLEUS_AREA: Final[str] = "Nuclei_AreaShape_Area"
CELL_AREA: Final[str] = "Cells_AreaShape_Area"
#: The cell's label id in its field's label images: napari's ``layer.features`` key and,
#: with plate, well and site, the join key of every per-cell table.
LABEL: Final[str] = "label"

# Columns of a similarity ranking (evaluation.rank_by_similarity, similarity.rank).
RANK: Final[str] = "rank"
SIMILARITY: Final[str] = "similarity"


def is_metadata_column(name: str) -> bool:
    """Return True for pycytominer metadata columns (``Metadata_*``)."""
    return name.startswith(METADATA_PREFIX)


def well_name(row: int, col: int) -> str:
    """Return the well name of a 1-based Phenix row and column.

    Examples
    --------
    >>> well_name(2, 7), well_name(27, 48)
    ('B07', 'AA48')
    """
    if not 1 <= row <= len(ROW_LETTERS):
        raise ValueError(f"plate row {row} is outside 1..{len(ROW_LETTERS)}")
    if not 1 <= col <= MAX_COLUMNS:
        raise ValueError(f"plate column {col} is outside 1..{MAX_COLUMNS}")
    return f"{ROW_LETTERS[row - 1]}{col:02d}"


_WELL_NAME = re.compile(r"([A-Za-z]{1,2})(\d{1,2})")


def well_row_col(well: str) -> tuple[int, int]:
    """Return the 1-based (row, column) of a well name, up to a 1536-well plate's AF48.

    Examples
    --------
    >>> well_row_col("B07"), well_row_col("p24"), well_row_col("AF48")
    ((2, 7), (16, 24), (32, 48))
    """
    match = _WELL_NAME.fullmatch(well.strip())
    row_name = match.group(1).upper() if match else ""
    if row_name not in ROW_LETTERS or not 1 <= int(match.group(2)) <= MAX_COLUMNS:
        raise ValueError(f"not a well name of a plate up to 1536 wells (A01..AF48): {well!r}")
    return ROW_LETTERS.index(row_name) + 1, int(match.group(2))

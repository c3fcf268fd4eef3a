"""Plate maps and perturbation metadata in the CPJUMP1 layout, joined per well.

Layout (below a project root)::

    metadata/platemaps/<batch>/barcode_platemap.csv        Assay_Plate_Barcode, Plate_Map_Name
    metadata/platemaps/<batch>/platemap/<Plate_Map_Name>.txt   well_position, broad_sample, ...
    metadata/external_metadata/*.tsv                        broad_sample -> pert_iname, target_list
                                                            (compounds) or gene (CRISPR, ORF)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CONTROL_TYPE,
    GENE,
    MODALITIES,
    MODALITY,
    NEGATIVE_CONTROL,
    PERT_INAME,
    PERT_TYPE,
    PLATE,
    TARGET_LIST,
    WELL,
    well_row_col,
)
from napari_phenoscope.errors import PlateFormatError

#: Columns every well gets from ``read_well_metadata`` (missing text is "").
WELL_METADATA_COLUMNS: tuple[str, ...] = (
    PLATE,
    WELL,
    BROAD_SAMPLE,
    MODALITY,
    PERT_INAME,
    GENE,
    TARGET_LIST,
    PERT_TYPE,
    CONTROL_TYPE,
    "Metadata_Plate_Map_Name",
    "Metadata_Batch",
)
_EXTERNAL_COLUMNS = {
    "pert_iname": PERT_INAME,
    "gene": GENE,
    "target_list": TARGET_LIST,
    "pert_type": PERT_TYPE,
    "control_type": CONTROL_TYPE,
}


def find_project_root(path: str | Path) -> Path | None:
    """Return the nearest folder at or above ``path`` holding ``metadata/platemaps``."""
    path = Path(path).resolve()
    for folder in (path, *path.parents):
        if (folder / "metadata" / "platemaps").is_dir():
            return folder
    return None


def _read_table(path: Path, sep: str) -> pd.DataFrame:
    options = {"sep": sep, "dtype": str, "keep_default_na": False, "na_values": ["NA"]}
    try:
        try:
            return pd.read_csv(path, **options)
        except UnicodeDecodeError:
            # tables saved by spreadsheet programs are often Latin-1 (Windows-1252)
            return pd.read_csv(path, encoding="latin-1", **options)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise PlateFormatError(f"cannot read {path}: {error}") from error


def _require(table: pd.DataFrame, columns: tuple[str, ...], path: Path) -> None:
    for column in columns:
        if column not in table.columns:
            raise PlateFormatError(f"{path} has no column {column}")


def _modality_of(path: Path, table: pd.DataFrame) -> str:
    """The modality of an external metadata file: its name, else its columns."""
    lowered = path.name.lower()
    for modality in MODALITIES:
        if modality in lowered:
            return modality
    if "pert_iname" in table.columns:
        return "compound"
    samples = table["broad_sample"].astype(str)
    return "orf" if samples.str.startswith("ccsb").mean() > 0.5 else "crispr"


def read_perturbations(root: str | Path) -> pd.DataFrame:
    """Read ``metadata/external_metadata/*.tsv`` into one table keyed by broad_sample."""
    folder = Path(root) / "metadata" / "external_metadata"
    tables = []
    for path in sorted(folder.glob("*.tsv")):
        table = _read_table(path, "\t")
        _require(table, ("broad_sample",), path)
        renamed = table.rename(columns=_EXTERNAL_COLUMNS)
        renamed = renamed[
            ["broad_sample", *(c for c in _EXTERNAL_COLUMNS.values() if c in renamed)]
        ]
        renamed[MODALITY] = _modality_of(path, table)
        tables.append(renamed)
    if not tables:
        raise PlateFormatError(f"no perturbation metadata (*.tsv) in {folder}")
    perturbations = pd.concat(tables, ignore_index=True).rename(
        columns={"broad_sample": BROAD_SAMPLE}
    )
    return perturbations.drop_duplicates(BROAD_SAMPLE, keep="first")


def read_plate_maps(root: str | Path) -> pd.DataFrame:
    """Read every batch's barcode -> plate map -> well table.

    Returns
    -------
    pandas.DataFrame
        ``Metadata_Plate``, ``Metadata_Well``, ``Metadata_broad_sample``,
        ``Metadata_Plate_Map_Name``, ``Metadata_Batch``, one row per plate and well.
    """
    platemaps = Path(root) / "metadata" / "platemaps"
    rows = []
    for barcode_csv in sorted(platemaps.glob("*/barcode_platemap.csv")):
        barcodes = _read_table(barcode_csv, ",")
        _require(barcodes, ("Assay_Plate_Barcode", "Plate_Map_Name"), barcode_csv)
        for barcode, map_name in barcodes[["Assay_Plate_Barcode", "Plate_Map_Name"]].itertuples(
            index=False
        ):
            map_path = barcode_csv.parent / "platemap" / f"{map_name}.txt"
            if not map_path.is_file():
                raise PlateFormatError(f"plate map {map_path} named in {barcode_csv} is missing")
            wells = _read_table(map_path, "\t")
            _require(wells, ("well_position", "broad_sample"), map_path)
            for well in wells["well_position"]:
                try:
                    well_row_col(well)
                except ValueError as error:
                    raise PlateFormatError(f"plate map {map_path}: {error}") from error
            rows.append(
                pd.DataFrame(
                    {
                        PLATE: barcode,
                        WELL: wells["well_position"].str.upper(),
                        BROAD_SAMPLE: wells["broad_sample"].fillna(""),
                        "Metadata_Plate_Map_Name": map_name,
                        "Metadata_Batch": barcode_csv.parent.name,
                    }
                )
            )
    if not rows:
        raise PlateFormatError(f"no barcode_platemap.csv under {platemaps}")
    return pd.concat(rows, ignore_index=True)


def read_well_metadata(root: str | Path) -> pd.DataFrame:
    """Join plate maps with perturbation metadata: one annotated row per plate and well.

    Empty ``broad_sample`` wells are negative controls (DMSO on compound plates). A plate's
    modality is that of most of its perturbations, so its controls get it too.

    Parameters
    ----------
    root
        The project folder holding ``metadata/`` (or any folder below it).

    Returns
    -------
    pandas.DataFrame
        The columns of ``WELL_METADATA_COLUMNS``, missing text as "".
    """
    project = find_project_root(root)
    if project is None:
        raise PlateFormatError(f"no metadata/platemaps folder at or above {root}")
    wells = read_plate_maps(project)
    perturbations = read_perturbations(project)
    annotated = wells.merge(perturbations, on=BROAD_SAMPLE, how="left")
    plate_modality = (
        annotated.dropna(subset=[MODALITY]).groupby(PLATE)[MODALITY].agg(lambda m: m.mode()[0])
    )
    annotated[MODALITY] = annotated[MODALITY].fillna(annotated[PLATE].map(plate_modality))
    empty = annotated[BROAD_SAMPLE] == ""
    is_compound_plate = annotated[MODALITY] == "compound"
    annotated.loc[empty & is_compound_plate, PERT_INAME] = "DMSO"
    annotated.loc[empty, PERT_TYPE] = "control"
    annotated.loc[empty, CONTROL_TYPE] = NEGATIVE_CONTROL
    for column in WELL_METADATA_COLUMNS:
        if column not in annotated.columns:
            annotated[column] = ""
    return annotated[list(WELL_METADATA_COLUMNS)].fillna("").reset_index(drop=True)


def join_well_metadata(table: pd.DataFrame, well_metadata: pd.DataFrame) -> pd.DataFrame:
    """Add each row's well metadata (by plate and well) to a field or cell table.

    Raises
    ------
    PlateFormatError
        If a plate or well of ``table`` is not in the plate maps (names the first few).
    """
    known = set(zip(well_metadata[PLATE], well_metadata[WELL], strict=True))
    keys = list(zip(table[PLATE], table[WELL], strict=True))
    unknown = sorted({key for key in keys if key not in known})
    if unknown:
        shown = ", ".join(f"{plate}/{well}" for plate, well in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise PlateFormatError(f"well(s) not in the plate map: {shown}{more}")
    extra = [c for c in well_metadata.columns if c not in table.columns or c in (PLATE, WELL)]
    return table.merge(well_metadata[extra], on=[PLATE, WELL], how="left", validate="many_to_one")

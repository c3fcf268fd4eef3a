"""Well metadata without the CPJUMP1 layout: any table, JUMP's tables, a negcon rule.

- ``read_metadata_table``: a CSV / TSV / Parquet table (``.gz`` too) with at least
  ``Metadata_Plate`` and ``Metadata_Well``; joined on every ``Metadata_*`` key it shares
  with the cells (``join_metadata``).
- ``read_jump_metadata``: a folder holding JUMP's ``plate``, ``well``, ``compound``,
  ``crispr`` and ``orf`` tables (``.csv.gz``) and ``perturbation_control.csv``, joined
  through ``Metadata_JCP2022`` into the columns of ``WELL_METADATA_COLUMNS``.
- ``apply_negcon``: ``"COLUMN=VALUE"`` marks negative controls in a table that does not
  say which wells are controls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from napari_phenoscope.constants import (
    BATCH,
    BROAD_SAMPLE,
    CONTROL_TYPE,
    GENE,
    JCP2022,
    MODALITY,
    NEGATIVE_CONTROL,
    PERT_INAME,
    PERT_TYPE,
    PLATE,
    SITE,
    SOURCE,
    WELL,
)
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io.platemap import find_project_root, join_well_metadata, read_well_metadata

_JUMP_TABLES = ("plate", "well", "compound", "crispr", "orf")
_PLATE_TYPE_MODALITY = {"ORF": "orf", "CRISPR": "crispr"}  # every other type holds compounds


def _read_any(path: Path) -> pd.DataFrame:
    """Read a CSV / TSV / Parquet file (gzipped or not) with text columns."""
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith(".parquet"):
            table = pd.read_parquet(path)
            return table.astype({c: str for c in table.columns if c.startswith("Metadata_")})
        sep = "\t" if name.endswith((".tsv", ".txt")) else ","
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except (OSError, ValueError, EOFError, pd.errors.ParserError) as error:
        raise PlateFormatError(f"cannot read metadata table {path}: {error}") from error


def read_metadata_table(path: str | Path) -> pd.DataFrame:
    """Read a well metadata table and check it can be joined to cells.

    Raises
    ------
    PlateFormatError
        If the file is unreadable or lacks ``Metadata_Plate`` or ``Metadata_Well``.
    """
    path = Path(path)
    if not path.is_file():
        raise PlateFormatError(f"metadata table not found: {path}")
    table = _read_any(path)
    for column in (PLATE, WELL):
        if column not in table.columns:
            raise PlateFormatError(f"metadata table {path} has no column {column}")
    table[WELL] = table[WELL].str.strip().str.upper()
    return table


def load_metadata(path: str | Path, plates: Iterable[str] | None = None) -> pd.DataFrame:
    """A metadata table, or JUMP's metadata folder read for ``plates`` (see module notes)."""
    path = Path(path)
    if path.is_dir():
        return read_jump_metadata(path, plates)
    return read_metadata_table(path)


def join_metadata(table: pd.DataFrame, metadata: pd.DataFrame, source: str | Path) -> pd.DataFrame:
    """Add ``metadata``'s columns to ``table`` on the identifying keys they share.

    The keys are those of ``Metadata_Source``, ``Metadata_Plate``, ``Metadata_Well`` and
    ``Metadata_Site`` that both tables have (Plate and Well at least); every other
    metadata column is added, replacing a column of the same name. Wells the metadata
    does not list get "".

    Raises
    ------
    PlateFormatError
        Naming ``source``: no Plate/Well in common, or several rows for one key.
    """
    keys = [c for c in (SOURCE, PLATE, WELL, SITE) if c in metadata.columns and c in table]
    for column in (PLATE, WELL):
        if column not in keys:
            raise PlateFormatError(f"metadata table {source} cannot be joined on {column}")
    metadata = metadata.copy()
    if SITE in keys:
        try:
            metadata[SITE] = metadata[SITE].astype(int)
        except ValueError as error:
            raise PlateFormatError(f"metadata table {source} column {SITE}: {error}") from None
    for key in keys:
        if key != SITE:
            metadata[key] = metadata[key].astype(str)
    duplicated = metadata.duplicated(keys)
    if duplicated.any():
        first = metadata.loc[duplicated, keys].iloc[0].to_dict()
        raise PlateFormatError(f"metadata table {source} has several rows for {first}")
    added = [c for c in metadata.columns if c not in keys]
    merged = table.drop(columns=[c for c in added if c in table.columns]).merge(
        metadata, on=keys, how="left"
    )
    merged[added] = merged[added].astype(object).where(merged[added].notna(), "")
    return merged


def apply_negcon(table: pd.DataFrame, spec: str) -> pd.DataFrame:
    """Mark the rows where ``COLUMN == VALUE`` as negative controls.

    ``COLUMN`` may be given with or without its ``Metadata_`` prefix. Other rows keep
    their control type (or get "" when the table had none).

    Raises
    ------
    PlateFormatError
        If ``spec`` is not ``COLUMN=VALUE`` or the column is absent (named).
    """
    column, separator, value = spec.partition("=")
    column, value = column.strip(), value.strip()
    if not separator or not column or not value:
        raise PlateFormatError(
            f"--negcon {spec!r} is not COLUMN=VALUE (e.g. Metadata_pert_iname=DMSO)"
        )
    if column not in table.columns and f"Metadata_{column}" in table.columns:
        column = f"Metadata_{column}"
    if column not in table.columns:
        raise PlateFormatError(f"--negcon names column {column}, which the well metadata lacks")
    table = table.copy()
    if CONTROL_TYPE not in table.columns:
        table[CONTROL_TYPE] = ""
    table[CONTROL_TYPE] = table[CONTROL_TYPE].fillna("")
    table.loc[table[column].astype(str) == value, CONTROL_TYPE] = NEGATIVE_CONTROL
    return table


def annotate_wells(
    fields: pd.DataFrame,
    plate_dirs: Sequence[str | Path],
    metadata: str | Path | None = None,
    negcon: str | None = None,
) -> pd.DataFrame:
    """One row per imaged plate and well with every annotation the run has.

    In order: the fields' own ``Metadata_*`` columns (a LoadData CSV's source, batch...),
    the CPJUMP1 plate maps at or above any plate folder, the ``metadata`` table or JUMP
    folder, then ``negcon``. No annotation at all is fine (profiling then normalises
    to all wells).

    Raises
    ------
    PlateFormatError
        Before any work: an imaged well missing from the plate maps, an unreadable or
        unjoinable metadata table, a ``negcon`` column the metadata lacks (all named).
    """
    per_well = [c for c in fields.columns if c.startswith("Metadata_") and c != SITE]
    wells = fields[per_well].drop_duplicates([PLATE, WELL]).reset_index(drop=True)
    roots = list(dict.fromkeys(r for r in map(find_project_root, plate_dirs) if r is not None))
    if roots:
        maps = [read_well_metadata(root) for root in roots]
        plate_maps = pd.concat(maps, ignore_index=True).drop_duplicates([PLATE, WELL])
        wells = join_well_metadata(wells, plate_maps)
    if metadata is not None:
        table = load_metadata(metadata, plates=wells[PLATE].unique())
        wells = join_metadata(wells, table, metadata)
    if negcon is not None:
        wells = apply_negcon(wells, negcon)
    return wells


# --- JUMP ----------------------------------------------------------------------------------


def _jump_file(folder: Path, name: str, required: bool = True) -> Path | None:
    for candidate in (folder / f"{name}.csv.gz", folder / f"{name}.csv"):
        if candidate.is_file():
            return candidate
    if required:
        raise PlateFormatError(f"JUMP metadata folder {folder} has no {name}.csv.gz")
    return None


def is_jump_metadata_folder(path: str | Path) -> bool:
    """True for a folder holding JUMP's ``well`` and ``plate`` tables."""
    path = Path(path)
    return path.is_dir() and all(
        _jump_file(path, name, required=False) is not None for name in ("well", "plate")
    )


def _jump_table(folder: Path, name: str, columns: tuple[str, ...], required: bool = True):
    path = _jump_file(folder, name, required)
    if path is None:
        return pd.DataFrame(columns=list(columns))
    table = _read_any(path)
    for column in columns:
        if column not in table.columns:
            raise PlateFormatError(f"JUMP metadata table {path} has no column {column}")
    return table


def read_jump_metadata(folder: str | Path, plates: Iterable[str] | None = None) -> pd.DataFrame:
    """Annotate JUMP wells with modality, perturbation, gene and control type.

    Parameters
    ----------
    folder
        Holds ``plate.csv.gz``, ``well.csv.gz`` and any of ``compound``, ``crispr``,
        ``orf`` (``.csv.gz``) and ``perturbation_control.csv``, in the column layout of
        the jump-cellpainting ``datasets`` repository.
    plates
        Only these plates (the table of every JUMP well is large).

    Returns
    -------
    pandas.DataFrame
        One row per plate and well: ``Metadata_Source``, ``Metadata_Batch``,
        ``Metadata_PlateType``, ``Metadata_JCP2022``, ``Metadata_modality``,
        ``Metadata_broad_sample`` (the JCP2022 id, or the ORF's Broad id),
        ``Metadata_pert_iname`` (control name or JCP2022 id), ``Metadata_gene`` (CRISPR /
        ORF symbol), ``Metadata_InChIKey``, ``Metadata_pert_type`` (control / trt) and
        ``Metadata_control_type`` (negcon / poscon / empty, from
        ``perturbation_control.csv``, else the ORF table's ``Metadata_pert_type``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PlateFormatError(f"JUMP metadata folder not found: {folder}")
    plate = _jump_table(folder, "plate", (PLATE, BATCH, "Metadata_PlateType"))
    well = _jump_table(folder, "well", (PLATE, WELL, JCP2022))
    if plates is not None:
        chosen = {str(p) for p in plates}
        well = well[well[PLATE].isin(chosen)]
        if well.empty:
            raise PlateFormatError(
                f"JUMP metadata {_jump_file(folder, 'well')} lists none of the plates "
                f"{', '.join(sorted(chosen))}"
            )
    annotated = well.merge(
        plate.drop(columns=[c for c in ("Metadata_Source",) if c in well.columns]),
        on=PLATE,
        how="left",
    )
    perturbations = []
    for modality, columns in (
        ("compound", (JCP2022, "Metadata_InChIKey")),
        ("crispr", (JCP2022, "Metadata_Symbol")),
        ("orf", (JCP2022, "Metadata_Symbol", "Metadata_broad_sample")),
    ):
        table = _jump_table(folder, modality, columns, required=False)
        keep = [c for c in (*columns, "Metadata_pert_type") if c in table.columns]
        table = table[keep].rename(
            columns={"Metadata_Symbol": GENE, "Metadata_pert_type": "_orf_pert_type"}
        )
        table[MODALITY] = modality
        perturbations.append(table)
    perturbation = pd.concat(perturbations, ignore_index=True).drop_duplicates(JCP2022)
    annotated = annotated.merge(perturbation, on=JCP2022, how="left")
    controls_path = _jump_file(folder, "perturbation_control", required=False)
    if controls_path is not None:
        controls = _read_any(controls_path)
        for column in (JCP2022, "Metadata_pert_type", "Metadata_Name"):
            if column not in controls.columns:
                raise PlateFormatError(
                    f"JUMP metadata table {controls_path} has no column {column}"
                )
        controls = controls.rename(
            columns={"Metadata_pert_type": CONTROL_TYPE, "Metadata_Name": "_control_name"}
        )[[JCP2022, CONTROL_TYPE, "_control_name"]]
        annotated = annotated.merge(controls, on=JCP2022, how="left")
    else:
        annotated[CONTROL_TYPE] = None
        annotated["_control_name"] = None
    orf_type = annotated.get("_orf_pert_type", pd.Series(None, index=annotated.index))
    annotated[CONTROL_TYPE] = annotated[CONTROL_TYPE].fillna(
        orf_type.where(orf_type.isin(["negcon", "poscon"]))
    )
    plate_modality = annotated["Metadata_PlateType"].map(
        lambda kind: _PLATE_TYPE_MODALITY.get(str(kind).upper(), "compound")
    )
    annotated[MODALITY] = annotated[MODALITY].fillna(plate_modality)
    annotated[BROAD_SAMPLE] = annotated.get(BROAD_SAMPLE, annotated[JCP2022]).fillna(
        annotated[JCP2022]
    )
    annotated[PERT_INAME] = annotated["_control_name"].fillna(annotated[JCP2022])
    annotated[PERT_TYPE] = annotated[CONTROL_TYPE].notna().map({True: "control", False: "trt"})
    columns = [
        c
        for c in (
            "Metadata_Source",
            PLATE,
            WELL,
            BATCH,
            "Metadata_PlateType",
            JCP2022,
            MODALITY,
            BROAD_SAMPLE,
            PERT_INAME,
            GENE,
            "Metadata_InChIKey",
            PERT_TYPE,
            CONTROL_TYPE,
        )
        if c in annotated.columns
    ]
    result = annotated[columns].fillna("").drop_duplicates([PLATE, WELL])
    result[WELL] = result[WELL].str.upper()
    return result.reset_index(drop=True)

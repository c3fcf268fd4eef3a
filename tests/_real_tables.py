"""Pycytominer-shaped tables made from the real CellProfiler outputs in ../shared.

CellProfiler writes one CSV per compartment (Cells, Cytoplasm, Nuclei) and an Image.csv;
pycytominer (``SingleCells.merge_single_cells``) joins them per object into one row per
cell with ``<Compartment>_<Measurement>`` feature names and ``Metadata_*`` columns. These
helpers do that join for the real sites, so that the profile-table tests run on genuine
CellProfiler numbers and column names. Tests take the folder from conftest's ``real_profiles``
fixture, which skips when ../shared is absent and gives them the ``shared`` mark.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: The three real sites with CellProfiler per-object CSVs (two plates, three wells).
SITES = (
    "cpjump1_singlecell_BR00116991_A01_s1",
    "jump_target2_BR00121431_singlecell/analysis/BR00121431-A01-1",
    "jump_target2_BR00121431_singlecell/analysis/BR00121431-A02-1",
)
BACKEND = "jump_target2_BR00121431_singlecell/BR00121431_backend_main.csv"
_IDS = ("ImageNumber", "ObjectNumber")


def _compartment(folder: Path, name: str) -> pd.DataFrame:
    table = pd.read_csv(folder / f"{name}.csv")
    renamed = {c: f"{name}_{c}" for c in table.columns if c not in _IDS}
    return table.rename(columns=renamed)


def collate_site(folder: Path) -> pd.DataFrame:
    """One row per cell: Metadata_Plate/Well/Site/ObjectNumber + Cells_/Cytoplasm_/Nuclei_."""
    image = pd.read_csv(folder / "Image.csv")
    cells = _compartment(folder, "Cells")
    cytoplasm = _compartment(folder, "Cytoplasm").drop(columns="ObjectNumber")
    nuclei = _compartment(folder, "Nuclei").rename(columns={"ObjectNumber": "Nuclei_Number"})
    merged = cells.merge(
        cytoplasm,
        left_on=["ImageNumber", "ObjectNumber"],
        right_on=["ImageNumber", "Cytoplasm_Parent_Cells"],
    ).merge(
        nuclei,
        left_on=["ImageNumber", "Cells_Parent_Nuclei"],
        right_on=["ImageNumber", "Nuclei_Number"],
    )
    meta = image[["ImageNumber", "Metadata_Plate", "Metadata_Well", "Metadata_Site"]]
    merged = meta.merge(merged, on="ImageNumber").rename(
        columns={"ObjectNumber": "Metadata_ObjectNumber"}
    )
    identifiers = [
        c for c in merged.columns if c == "ImageNumber" or "_Parent_" in c or "_Children_" in c
    ]
    identifiers += [c for c in merged.columns if c.endswith("_Number") or "Location_" in c]
    return merged.drop(columns=identifiers)


def real_single_cells(root: Path) -> pd.DataFrame:
    """The 234 real cells of three wells on two plates (under ``root``, the ``real_profiles``
    fixture), features common to all three."""
    sites = [collate_site(root / site) for site in SITES]
    common = [c for c in sites[0].columns if all(c in site.columns for site in sites[1:])]
    return pd.concat([site[common] for site in sites], ignore_index=True)


def robust_z(table: pd.DataFrame) -> pd.DataFrame:
    """Per-feature (x - median) / (1.4826 MAD) over all rows, constant features dropped.

    The shape of a ``normalized`` pycytominer table (``mad_robustize``, ``samples="all"``)
    without its feature selection, so that cosine similarity is not ruled by areas.
    """
    meta = [c for c in table.columns if c.startswith("Metadata_")]
    feats = table.drop(columns=meta).astype(float)
    mad = (feats - feats.median()).abs().median() * 1.4826
    keep = mad.index[mad > 0]
    normalized = (feats[keep] - feats[keep].median()) / mad[keep]
    return pd.concat([table[meta], normalized], axis=1)

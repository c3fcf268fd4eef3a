"""Writers of tiny real-format plates for the layout tests: Gallery tree, OME-Zarr, JUMP tables.

Pixel values encode (well, site, channel) through ``conftest.channel_value`` so a test can
tell which file a plane came from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

from conftest import channel_value, phenix_name
from napari_phenoscope.constants import CHANNELS

GALLERY_BATCH = "2021_04_26_Batch1"
GALLERY_PLATE = "BR00117035"
GALLERY_WELLS = ("A01", "A02", "B01")
S3_SOURCE = "s3://cellpainting-gallery/cpg0016-jump/source_4"
#: Wells of a 1536-well plate (32 x 48) that a 384-well plate lacks: rows Q..Z and AA..AF,
#: columns 25..48, as OME-Zarr row/column paths.
WELLS_1536 = ("A/1", "P/24", "Q/25", "Z/9", "AA/1", "AF/48")


def illum_function(channel: str, shape: tuple[int, int] = (32, 32)) -> np.ndarray:
    """A smooth positive function, different per channel, as CellProfiler writes them."""
    y, x = np.mgrid[: shape[0], : shape[1]]
    return (1.0 + 0.5 * CHANNELS.index(channel) / 4 + x / (4.0 * shape[1])).astype(np.float64)


def write_gallery_source(
    root: Path, gzip: bool = True, with_illum: bool = True, illum_files: bool = True
) -> Path:
    """``<root>/source_4`` in the Cell Painting Gallery layout; returns the source folder.

    The LoadData CSVs point at S3 (as real ones do); one plate, three wells, two sites.
    """
    source = root / "source_4"
    plate_dir = f"{GALLERY_PLATE}__2021-05-02T16_02_51-Measurement1"
    images = source / "images" / GALLERY_BATCH / "images" / plate_dir / "Images"
    images.mkdir(parents=True)
    illum = source / "images" / GALLERY_BATCH / "illum" / GALLERY_PLATE
    if illum_files:
        illum.mkdir(parents=True)
        for channel in CHANNELS:
            np.save(illum / f"{GALLERY_PLATE}_Illum{channel}.npy", illum_function(channel))
    rows = []
    for well in GALLERY_WELLS:
        for site in (1, 2):
            row = {
                "Metadata_Source": "source_4",
                "Metadata_Batch": GALLERY_BATCH,
                "Metadata_Plate": GALLERY_PLATE,
                "Metadata_Well": well,
                "Metadata_Site": site,
            }
            for channel in CHANNELS:
                name = phenix_name(well, site, channel)
                value = channel_value(well, site, channel)
                tifffile.imwrite(images / name, np.full((32, 32), value, np.uint16))
                row[f"FileName_Orig{channel}"] = name
                row[f"PathName_Orig{channel}"] = (
                    f"{S3_SOURCE}/images/{GALLERY_BATCH}/images/{plate_dir}/Images/"
                )
            rows.append(row)
    table = pd.DataFrame(rows)
    csv_dir = source / "workspace" / "load_data_csv" / GALLERY_BATCH / GALLERY_PLATE
    csv_dir.mkdir(parents=True)
    suffix = ".csv.gz" if gzip else ".csv"
    table.to_csv(csv_dir / f"load_data{suffix}", index=False)
    if with_illum:
        for channel in CHANNELS:
            table[f"FileName_Illum{channel}"] = f"{GALLERY_PLATE}_Illum{channel}.npy"
            table[f"PathName_Illum{channel}"] = (
                f"{S3_SOURCE}/images/{GALLERY_BATCH}/illum/{GALLERY_PLATE}/"
            )
        table.to_csv(csv_dir / f"load_data_with_illum{suffix}", index=False)
    return source


def write_ome_zarr_plate(
    path: Path,
    version: str = "0.5",
    labels: list[str] | None = ("Hoechst 33342", "ConA", "SYTO14", "Phalloidin", "MitoTracker"),
    wells: tuple[str, ...] = ("A/1", "A/2", "B/3"),
    fields: int = 2,
    shape: tuple[int, int] = (32, 32),
    pixel_size_um: float | None = 0.65,
    chunks: tuple[int, int, int] | None = None,
    levels: int = 1,
    planes: Callable[[str, int], np.ndarray] | None = None,
) -> Path:
    """An OME-Zarr HCS plate written with ome-zarr-py's writer (NGFF 0.4 = zarr v2, 0.5 = v3).

    Channel ``c`` of field ``f`` of well ``R/C`` holds ``channel_value(well, f + 1, CHANNELS[c])``,
    unless ``planes(well_name, f + 1)`` gives the field's (C, Y, X) pixels. ``chunks``: the
    (c, y, x) chunk shape (default: ome-zarr's); ``levels``: resolution levels (halving).
    """
    import zarr
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata

    fmt = FormatV04() if version == "0.4" else FormatV05()
    root = zarr.open_group(str(path), mode="w", zarr_format=2 if version == "0.4" else 3)
    rows = sorted({well.split("/")[0] for well in wells})
    columns = sorted({well.split("/")[1] for well in wells}, key=int)
    write_plate_metadata(root, rows, columns, list(wells), fmt=fmt, name="PLATE01")
    for well in wells:
        row, column = well.split("/")
        well_group = root.require_group(row).require_group(column)
        write_well_metadata(well_group, [{"path": str(f)} for f in range(fields)], fmt=fmt)
        well_name = f"{row}{int(column):02d}"
        for field in range(fields):
            if planes is not None:
                data = planes(well_name, field + 1)
            else:
                data = np.stack(
                    [
                        np.full(shape, channel_value(well_name, field + 1, channel), np.uint16)
                        for channel in CHANNELS
                    ]
                )
            metadata = {}
            if labels is not None:
                metadata["omero"] = {
                    "channels": [
                        {
                            "label": label,
                            "color": "FFFFFF",
                            "window": {"min": 0, "max": 65535, "start": 0, "end": 65535},
                        }
                        for label in labels
                    ]
                }
            scale = None
            units = None
            if pixel_size_um is not None:
                scale = {"c": 1.0, "y": pixel_size_um, "x": pixel_size_um}
                units = {"y": "micrometer", "x": "micrometer"}
            write_image(
                data,
                well_group.require_group(str(field)),
                axes="cyx",
                fmt=fmt,
                scale_factors=[2**level for level in range(1, levels)],
                scale=scale,
                axes_units=units,
                storage_options=None if chunks is None else {"chunks": chunks},
                **metadata,
            )
    return path


def write_jump_metadata(folder: Path) -> Path:
    """JUMP's metadata tables in their real column layout for a CRISPR and a compound plate."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "Metadata_Source": ["source_13", "source_4"],
            "Metadata_Batch": ["20220914_Run1", GALLERY_BATCH],
            "Metadata_Plate": ["CP-CC9-R1-01", GALLERY_PLATE],
            "Metadata_PlateType": ["CRISPR", "COMPOUND"],
        }
    ).to_csv(folder / "plate.csv.gz", index=False)
    pd.DataFrame(
        {
            "Metadata_Source": ["source_13"] * 3 + ["source_4"] * 3,
            "Metadata_Plate": ["CP-CC9-R1-01"] * 3 + [GALLERY_PLATE] * 3,
            "Metadata_Well": ["A01", "A02", "A03", "A01", "A02", "B01"],
            "Metadata_JCP2022": [
                "JCP2022_800002",
                "JCP2022_805264",
                "JCP2022_806794",
                "JCP2022_033924",
                "JCP2022_012818",
                "JCP2022_033924",
            ],
        }
    ).to_csv(folder / "well.csv.gz", index=False)
    pd.DataFrame(
        {
            "Metadata_JCP2022": ["JCP2022_033924", "JCP2022_012818"],
            "Metadata_InChIKey": ["IAZDPXIOMUYVGZ-UHFFFAOYSA-N", "BQXUPNKLZNSUMC-YUQWMIPFSA-N"],
            "Metadata_InChI": ["InChI=1S/C2H6OS/c1-4(2)3/h1-2H3", "InChI=1S/..."],
            "Metadata_SMILES": ["CS(C)=O", "CC(C)..."],
        }
    ).to_csv(folder / "compound.csv.gz", index=False)
    pd.DataFrame(
        {
            "Metadata_JCP2022": ["JCP2022_800002", "JCP2022_805264", "JCP2022_806794"],
            "Metadata_NCBI_Gene_ID": ["", "5347", "1017"],
            "Metadata_Symbol": ["non-targeting", "PLK1", "CDK2"],
        }
    ).to_csv(folder / "crispr.csv.gz", index=False)
    pd.DataFrame(
        columns=[
            "Metadata_JCP2022",
            "Metadata_broad_sample",
            "Metadata_Name",
            "Metadata_Vector",
            "Metadata_Transcript",
            "Metadata_Symbol",
            "Metadata_NCBI_Gene_ID",
            "Metadata_Taxon_ID",
            "Metadata_Gene_Description",
            "Metadata_Prot_Match",
            "Metadata_Insert_Length",
            "Metadata_pert_type",
        ]
    ).to_csv(folder / "orf.csv.gz", index=False)
    pd.DataFrame(
        {
            "Metadata_JCP2022": [
                "JCP2022_033924",
                "JCP2022_012818",
                "JCP2022_800002",
                "JCP2022_805264",
            ],
            "Metadata_pert_type": ["negcon", "poscon", "negcon", "poscon"],
            "Metadata_Name": ["DMSO", "TC-S-7004", "non-targeting", "PLK1"],
            "Metadata_modality": ["compound", "compound", "crispr", "crispr"],
        }
    ).to_csv(folder / "perturbation_control.csv", index=False)
    return folder

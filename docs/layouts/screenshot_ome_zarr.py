"""Screenshot for ome-zarr.md: the plate navigator on an OME-Zarr plate of a real field.

Writes the pediatric field of ``../shared/data/real-cellpainting`` as a one-well NGFF 0.5
(zarr v3) plate with ome-zarr-py's writer, opens it in the dock with a metadata table and
a negcon rule, and saves a screenshot: ``xvfb-run -a python screenshot_ome_zarr.py OUT.png``.
"""

import sys
import tempfile
from pathlib import Path

import napari
import numpy as np
import pandas as pd
import tifffile
import zarr
from ome_zarr.format import FormatV05
from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata

from napari_phenoscope._widgets.plate_navigator import PlateNavigator

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real-cellpainting"
FIELD = REAL / "pediatric_cancer_atlas_profiling" / "images" / "orig"
STAINS = {  # channel: (Phenix channel number on this plate, stain label in the zarr)
    "DNA": (5, "Hoechst 33342"),
    "ER": (2, "Concanavalin A"),
    "RNA": (6, "SYTO14"),
    "AGP": (3, "Phalloidin"),
    "Mito": (4, "MitoTracker Deep Red"),
}


def write_plate(folder: Path) -> Path:
    planes = np.stack(
        [tifffile.imread(FIELD / f"r03c03f03p01-ch{n}sk1fk1fl1.tiff") for n, _ in STAINS.values()]
    )
    out = folder / "BR00143976.ome.zarr"
    fmt = FormatV05()
    root = zarr.open_group(str(out), mode="w", zarr_format=3)
    write_plate_metadata(root, ["C"], ["3"], ["C/3"], fmt=fmt, name="BR00143976")
    well = root.require_group("C").require_group("3")
    write_well_metadata(well, [{"path": "0"}], fmt=fmt)
    window = {"min": 0, "max": 65535, "start": 0, "end": 65535}
    write_image(
        planes,
        well.require_group("0"),
        axes="cyx",
        fmt=fmt,
        scale_factors=[2],
        scale={"c": 1.0, "y": 0.65, "x": 0.65},
        axes_units={"y": "micrometer", "x": "micrometer"},
        omero={
            "channels": [
                {"label": s, "color": "FFFFFF", "window": window} for _, s in STAINS.values()
            ]
        },
    )
    return out


def main(png: str) -> None:
    folder = Path(tempfile.mkdtemp())
    plate = write_plate(folder)
    table = folder / "wells.csv"
    wells = {"Metadata_Plate": ["BR00143976"], "Metadata_Well": ["C03"]}
    wells |= {"Metadata_cell_line": ["DAOY"], "Metadata_treatment": ["DMSO"]}
    pd.DataFrame(wells).to_csv(table, index=False)
    viewer = napari.Viewer(show=False)
    widget = PlateNavigator(viewer)
    viewer.window.add_dock_widget(widget, area="right")
    widget.inputs.metadata_edit.setText(str(table))
    widget.inputs.negcon_edit.setText("treatment=DMSO")
    widget.open(str(plate))
    widget.colour_combo.setCurrentText("Metadata_control_type")
    viewer.window._qt_window.resize(1400, 900)
    viewer.reset_view()
    print(widget.status.text())
    viewer.screenshot(png, canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    main(sys.argv[1])

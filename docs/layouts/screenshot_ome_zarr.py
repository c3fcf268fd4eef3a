"""Screenshot for docs/layouts/ome-zarr.md: the plate navigator on an OME-Zarr plate of a real field."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
import zarr
from ome_zarr.format import FormatV05
from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata

R = Path("/work/shared/data/real-cellpainting/pediatric_cancer_atlas_profiling/images/orig")
numbers = {"DNA": 5, "ER": 2, "RNA": 6, "AGP": 3, "Mito": 4}
labels = {
    "DNA": "Hoechst 33342",
    "ER": "Concanavalin A",
    "RNA": "SYTO14",
    "AGP": "Phalloidin",
    "Mito": "MitoTracker Deep Red",
}
planes = np.stack(
    [tifffile.imread(R / f"r03c03f03p01-ch{n}sk1fk1fl1.tiff") for n in numbers.values()]
)
out = Path("/tmp/io-real-zarr/BR00143976.ome.zarr")
if not out.exists():
    fmt = FormatV05()
    root = zarr.open_group(str(out), mode="w", zarr_format=3)
    write_plate_metadata(root, ["C"], ["3"], ["C/3"], fmt=fmt, name="BR00143976")
    well = root.require_group("C").require_group("3")
    write_well_metadata(well, [{"path": "0"}], fmt=fmt)
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
                {
                    "label": labels[c],
                    "color": "FFFFFF",
                    "window": {"min": 0, "max": 65535, "start": 0, "end": 65535},
                }
                for c in numbers
            ]
        },
    )
table = Path("/tmp/io-real-zarr/wells.csv")
pd.DataFrame(
    {
        "Metadata_Plate": ["BR00143976"],
        "Metadata_Well": ["C03"],
        "Metadata_cell_line": ["DAOY"],
        "Metadata_treatment": ["DMSO"],
    }
).to_csv(table, index=False)

import napari

from napari_phenoscope._widgets.plate_navigator import PlateNavigator

viewer = napari.Viewer(show=False)
widget = PlateNavigator(viewer)
viewer.window.add_dock_widget(widget, area="right")
widget.inputs.metadata_edit.setText(str(table))
widget.inputs.negcon_edit.setText("treatment=DMSO")
widget.open(str(out))
widget.colour_combo.setCurrentText("Metadata_control_type")
viewer.window._qt_window.resize(1400, 900)
viewer.reset_view()
print(widget.status.text())
viewer.screenshot(sys.argv[1], canvas_only=False)
viewer.close()

"""npe2 sample data: the BI-2536 well of the demo compound plate."""

from __future__ import annotations

from napari_phenoscope.constants import BROAD_SAMPLE, PLATE, SITE, WELL
from napari_phenoscope.demo.project import BI_2536, barcode, ensure_demo_plates
from napari_phenoscope.io import index_plate, read_well_metadata
from napari_phenoscope.io.field_layers import LayerData, field_layer_data


def demo_bi2536_well() -> list[LayerData]:
    """Open the demo project (rendered once into the cache) at BI-2536's first field.

    The layers carry the whole project's field index, so the plate navigator and the other
    docks can move to any demo well from here.
    """
    root = ensure_demo_plates(progress=False)
    fields = index_plate(root)
    wells = read_well_metadata(root)
    plate = barcode("compound", 1)
    bi2536 = wells[(wells[PLATE] == plate) & (wells[BROAD_SAMPLE] == BI_2536)][WELL]
    is_query = (fields[PLATE] == plate) & fields[WELL].isin(set(bi2536)) & (fields[SITE] == 1)
    index = int(fields.index[is_query][0])
    return field_layer_data(fields, index, source=root)


#: The bundled crop of a real field (see ``data/real_field/SOURCE.md`` for its licence).
REAL_FIELD = "BR00143976_C03_s3_crop.tiff"


def real_cellpainting_field() -> list[LayerData]:
    """A real Cell Painting field: a 224 px crop of a Cell Painting Gallery image (CC0).

    DAOY cells of plate BR00143976, well C03, site 3, as five channel layers, opened like
    any (5, Y, X) stack dropped on napari, so the Profile dock segments and profiles it.
    """
    from importlib import resources

    source = resources.files("napari_phenoscope") / "data" / "real_field" / REAL_FIELD
    with resources.as_file(source) as path:
        fields = index_plate(path)
        fields[PLATE], fields[WELL], fields[SITE] = "BR00143976", "C03", 3
        return field_layer_data(fields, 0, source=path)

"""The BI-2536 story of the demo: where the PLK1 inhibitor's wells are and how well it is found.

BI-2536 (a PLK1 inhibitor, annotated BRD4|PLK1|PLK2|PLK3) is the query the demo job and
the tour follow; these helpers find its wells in a plate map and summarise its retrieval.
"""

from __future__ import annotations

from typing import Any

from napari_phenoscope.constants import BROAD_SAMPLE, PLATE, WELL
from napari_phenoscope.demo.design import BI_2536
from napari_phenoscope.errors import PlateFormatError


def bi2536_wells(well_metadata: Any) -> list[tuple[str, str]]:
    """(plate, well) of every BI-2536 well (by Broad sample id), first plate first.

    Raises
    ------
    PlateFormatError
        If no well of the plate maps holds BI-2536.
    """
    rows = well_metadata[well_metadata[BROAD_SAMPLE] == BI_2536]
    if rows.empty:
        raise PlateFormatError(f"no well holds BI-2536 ({BI_2536}) in these plate maps")
    rows = rows.sort_values([PLATE, WELL])
    return [(str(p), str(w)) for p, w in zip(rows[PLATE], rows[WELL], strict=True)]


def bi2536_average_precision(per_query: Any) -> str:
    """BI-2536's average precision per annotated target and reference modality, one line."""
    rows = per_query[per_query[BROAD_SAMPLE] == BI_2536]
    return "; ".join(
        f"{row['matched_target']} ({row['reference']}) AP {row['average_precision']:.2f}"
        for _, row in rows.iterrows()
    )

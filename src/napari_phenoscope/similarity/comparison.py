"""A whole "why this match" comparison: every feature set, the cells, the ViT; and its export.

``compare`` gathers what ``explain`` (profiles) and ``explain_cells`` (cells, images, ViT)
compute for one query and one match into a ``Comparison``; ``comparison_tables`` gives its
numbers, ``comparison_figure.write_comparison`` writes them as CSV beside its figure. The
Compare dock and ``phenoscope explain`` both call these, so the dock's export and the
command's figure are the same picture. What cannot be shown (no images, no single cells,
no ViT profiles) is left out with a note saying why, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from napari_phenoscope.constants import LABEL, PLATE, SITE, WELL
from napari_phenoscope.errors import PhenoscopeError, ProfileTableError
from napari_phenoscope.features.composite import channel_composite
from napari_phenoscope.io import resolve_pixel_size
from napari_phenoscope.io.profiles import feature_columns
from napari_phenoscope.similarity.explain import (
    MatchExplanation,
    default_contrast,
    explain_match,
    find_perturbation,
    perturbation_query_of,
)
from napari_phenoscope.similarity.explain_cells import (
    CONTROL_ROLE,
    cell_window,
    channel_occlusion,
    read_windows,
    representative_rows,
    shared_limits,
    well_keys,
)
from napari_phenoscope.similarity.rank import (
    Query,
    perturbation_ids,
)

#: Feature sets in the order they are explained (the first with classical names gives the
#: feature-group chart; the ViT gives occlusion and attention).
ATTRIBUTION_SET = "classical"
VIT_SET = "vit"
QueryMaker = Callable[[pd.DataFrame, Sequence[str]], Query]


@dataclass
class Comparison:
    """Everything the Compare view shows for one query, its match and a contrast.

    Attributes
    ----------
    explanations
        Feature set -> ``MatchExplanation`` of the query and the match (similarity,
        rank, null, groups, replicates).
    contrasts
        Feature set -> ``MatchExplanation`` of the query and the contrast (e.g. BI-2536
        and the BRD4 knockout, when the match is the PLK1 knockout); empty without one.
    cells
        Representative cells (``role`` = query / match / contrast / control, plate,
        well, site, label, centroid), or None without single cells.
    thumbnails
        (N, S, S, 3) RGB in [0, 1] of ``cells``, one contrast for all; None without images.
    pixel_size
        Micrometres per pixel of the thumbnails, if the plate says.
    occlusion
        ``explain_cells.channel_occlusion`` of the query and the match, or None.
    notes
        What was left out and why, one line each.
    """

    explanations: dict[str, MatchExplanation]
    contrasts: dict[str, MatchExplanation] = field(default_factory=dict)
    cells: pd.DataFrame | None = None
    thumbnails: np.ndarray | None = None
    pixel_size: float | None = None
    occlusion: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def main(self) -> MatchExplanation:
        """The explanation of the first feature set (titles and names)."""
        return next(iter(self.explanations.values()))

    @property
    def contrast(self) -> MatchExplanation | None:
        """The contrast's explanation in the first feature set, if there is a contrast."""
        return next(iter(self.contrasts.values()), None)

    @property
    def attribution(self) -> MatchExplanation | None:
        """The classical explanation, whose feature groups are readable."""
        return self.explanations.get(ATTRIBUTION_SET)

    def summary(self) -> pd.DataFrame:
        """One row of headline numbers per feature set and side (match first, then contrast)."""
        rows = [{**e.summary(), "side": "match"} for e in self.explanations.values()]
        rows += [{**e.summary(), "side": "contrast"} for e in self.contrasts.values()]
        return pd.DataFrame(rows)


def perturbation_maker(spec: str) -> QueryMaker:
    """A query maker for a perturbation named as ``explain.find_perturbation`` reads it."""
    return lambda profiles, columns: perturbation_query_of(profiles, spec, columns)


def compare(
    well_profiles: Mapping[str, pd.DataFrame],
    query: QueryMaker | str,
    match: str,
    cells: pd.DataFrame | None = None,
    fields: pd.DataFrame | None = None,
    encoder: Any = None,
    n_cells: int = 4,
    null_size: int = 1000,
    seed: int = 0,
    device: str = "cpu",
    occlusion_cells_per_well: int = 16,
    versus: str | None = None,
) -> Comparison:
    """Explain why ``query`` matches ``match``, against a contrast, in every feature set.

    Parameters
    ----------
    well_profiles
        Feature set (``"vit"``, ``"classical"``) -> well profiles.
    query
        A perturbation (``"BI-2536"``, ``"crispr:PLK1"``) or a function making the
        ``similarity.Query`` of a cell or well from (profiles, feature columns).
    match
        The match, as ``explain.find_perturbation`` reads it (a name, ``modality:name``,
        a broad sample or perturbation id).
    cells
        Single-cell table (plate, well, site, label, centroid, features), for the cells.
    fields
        Field index of the plates (``io.index_plate``), for images; none: no cells shown.
    encoder
        The ViT the ``"vit"`` profiles were made with, for the channel occlusion.
    n_cells
        Cells per side and of the controls.
    null_size, seed
        The null of random well sets, and the seed of every random draw.
    device
        Torch device of the encoder.
    occlusion_cells_per_well
        Cells sampled per well for the channel occlusion.
    versus
        The contrast, read like ``match``; None: ``explain.default_contrast`` (the
        query's other target, else the best-ranked non-target); ``""``: no contrast.

    Raises
    ------
    ProfileTableError
        No well profiles, an unknown or ambiguous perturbation, a match inside the query,
        a contrast that is the match.
    """
    if not well_profiles:
        raise ProfileTableError("no well profiles to compare")
    make = perturbation_maker(query) if isinstance(query, str) else query
    ordered = sorted(well_profiles, key=lambda name: name != ATTRIBUTION_SET)
    if versus is None:
        chooser = VIT_SET if VIT_SET in well_profiles else ordered[0]
        profiles = well_profiles[chooser]
        columns = feature_columns(profiles, numeric_only=True)
        versus = default_contrast(
            profiles, make(profiles, columns), find_perturbation(profiles, match)[1], columns
        )
    comparison = Comparison({})
    for feature_set in ordered:
        profiles = well_profiles[feature_set]
        columns = feature_columns(profiles, numeric_only=True)
        made = make(profiles, columns)
        for spec, into in ((match, comparison.explanations), (versus, comparison.contrasts)):
            if not spec:
                continue
            name, wells = find_perturbation(profiles, spec)
            if into is comparison.contrasts:
                match_ids = set(perturbation_ids(comparison.explanations[feature_set].match_wells))
                if set(perturbation_ids(wells)) <= match_ids:
                    raise ProfileTableError(f"the contrast {spec!r} is the match itself")
            into[feature_set] = explain_match(
                made, wells, profiles, columns, name, feature_set, null_size, seed
            )
    if not versus:
        comparison.notes.append("no contrast: no other perturbation to set the match against")
    _add_cells(comparison, well_profiles, cells, fields, n_cells)
    _add_occlusion(
        comparison, well_profiles, cells, fields, encoder, device, occlusion_cells_per_well, seed
    )
    return comparison


def _add_cells(
    comparison: Comparison,
    well_profiles: Mapping[str, pd.DataFrame],
    cells: pd.DataFrame | None,
    fields: pd.DataFrame | None,
    n_cells: int,
) -> None:
    if cells is None or cells.empty:
        comparison.notes.append("no single-cell table: no representative cells")
        return
    feature_set = (
        VIT_SET if VIT_SET in comparison.explanations else next(iter(comparison.explanations))
    )
    explanation = comparison.explanations[feature_set]
    profiles = well_profiles[feature_set]
    columns = feature_columns(profiles, numeric_only=True)
    cell_columns = [c for c in columns if c in cells.columns]
    sides = {
        "query": (explanation.query_wells, explanation.query_vector),
        "match": (explanation.match_wells, explanation.match_vector),
    }
    contrast = comparison.contrasts.get(feature_set)
    if contrast is not None:
        sides["contrast"] = (contrast.match_wells, contrast.match_vector)
    if explanation.query_wells.empty:
        comparison.notes.append("the query has no well profile: no representative cells")
        return
    try:
        comparison.cells = representative_rows(
            cells, sides, profiles, columns, cell_columns, n_cells
        )
    except PhenoscopeError as error:
        comparison.notes.append(f"no representative cells: {error}")
        return
    if fields is None:
        comparison.notes.append("no images (open the plate, or --images PLATE_DIR): no cells shown")
        return
    try:
        windows = read_windows(fields, comparison.cells, cell_window(cells))
    except PhenoscopeError as error:
        comparison.notes.append(f"cells not shown: {error}")
        return
    controls = (comparison.cells["role"] == CONTROL_ROLE).to_numpy()
    limits = shared_limits(windows[controls] if controls.any() else windows)
    comparison.thumbnails = np.stack([channel_composite(w, limits) for w in windows])
    comparison.pixel_size = resolve_pixel_size(fields)


def _add_occlusion(
    comparison: Comparison,
    well_profiles: Mapping[str, pd.DataFrame],
    cells: pd.DataFrame | None,
    fields: pd.DataFrame | None,
    encoder: Any,
    device: str,
    per_well: int,
    seed: int,
) -> None:
    explanation = comparison.explanations.get(VIT_SET)
    missing = [
        what
        for what, value in (
            ("ViT profiles", explanation),
            ("single cells", cells),
            ("images", fields),
            ("encoder", encoder),
        )
        if value is None
    ]
    if missing:
        comparison.notes.append(f"no ViT channel occlusion: no {', no '.join(missing)}")
        return
    columns = feature_columns(well_profiles[VIT_SET], numeric_only=True)
    try:
        comparison.occlusion = channel_occlusion(
            encoder,
            cells,
            fields,
            well_keys(explanation.query_wells),
            well_keys(explanation.match_wells),
            columns,
            per_well=per_well,
            seed=seed,
            device=device,
        )
    except PhenoscopeError as error:
        comparison.notes.append(f"no ViT channel occlusion: {error}")


def comparison_tables(comparison: Comparison) -> dict[str, pd.DataFrame]:
    """The numbers behind the figure, one table per CSV: summary, groups, replicates, ..."""
    tables = {"summary": comparison.summary()}
    sides = [
        (side, name, explanation)
        for side, explanations in (("match", comparison.explanations),
                                   ("contrast", comparison.contrasts))
        for name, explanation in explanations.items()
    ]  # fmt: skip
    tables["groups"] = pd.concat(
        [e.groups.assign(**{"feature set": n, "side": side}) for side, n, e in sides],
        ignore_index=True,
    )
    tables["replicates"] = pd.concat(
        [e.replicates.assign(**{"feature set": n, "side compared": s}) for s, n, e in sides],
        ignore_index=True,
    )
    if comparison.occlusion is not None:
        tables["occlusion"] = comparison.occlusion
    if comparison.cells is not None:
        keep = ["role", PLATE, WELL, SITE, LABEL]
        tables["cells"] = comparison.cells[[c for c in keep if c in comparison.cells]]
    return tables

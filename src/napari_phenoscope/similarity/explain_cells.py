"""Why a match, seen in the cells: representative cells, ViT channel occlusion, attention.

``explain`` works on well profiles; this module goes back to the single cells and their
images:

- representative cells of each side (the cells closest to the median cell of the well whose
  profile is closest to the side's consensus), and of a negative-control well, cut from the
  fields with one contrast for all (the controls' percentiles), so brighter means brighter;
- ViT channel occlusion: the similarity of the two sides when one channel is blanked in
  every crop (query, match and the negative controls they are normalised to), recomputed
  through the same median, robust z-score and consensus steps as the profiles;

Images are read with ``io.read_field``; torch is imported only by the ViT functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from napari_phenoscope.constants import (
    CENTER_X,
    CENTER_Y,
    CHANNELS,
    CONTROL_TYPE,
    NEGATIVE_CONTROL,
    PLATE,
    SITE,
    WELL,
)
from napari_phenoscope.errors import PlateFormatError, ProfileTableError
from napari_phenoscope.features.crops import cell_centers, crop_origins, cut_windows, extract_crops
from napari_phenoscope.features.scaling import channel_percentiles
from napari_phenoscope.io import read_field
from napari_phenoscope.io.profiles import feature_columns, feature_matrix
from napari_phenoscope.profiling.pipeline import vit_feature_names
from napari_phenoscope.profiling.processing import aggregate, normalise
from napari_phenoscope.similarity.attribution import cosine
from napari_phenoscope.similarity.rank import representative_cells

#: What each representative cell stands for, in the order they are drawn.
ROLES = ("query", "match", "contrast", "control")
CONTROL_ROLE = "control"
WINDOW_PX = 96  # field pixels around a cell for the thumbnails, at most
#: A thumbnail spans this many times the distance between neighbouring cell centres: one
#: cell and the edges of its neighbours, however large the cells are in pixels.
CELL_SPAN = 1.6
MIN_WINDOW_PX = 32
BASELINE = "none"


def well_keys(wells: pd.DataFrame) -> list[tuple[str, str]]:
    """(plate, well) of each row, as strings."""
    return list(zip(wells[PLATE].astype(str), wells[WELL].astype(str), strict=True))


def cells_of_wells(cells: pd.DataFrame, keys: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """The single cells of the wells ``keys``."""
    wanted = set(keys)
    mask = [(str(p), str(w)) in wanted for p, w in zip(cells[PLATE], cells[WELL], strict=True)]
    return cells[np.asarray(mask, bool)]


def closest_well(wells: pd.DataFrame, vector: np.ndarray, feature_columns: Sequence[str]) -> int:
    """Row position of the well profile most similar (cosine) to ``vector``."""
    values = feature_matrix(wells, feature_columns).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        similarity = values @ vector / (np.linalg.norm(values, axis=1) * np.linalg.norm(vector))
    return int(np.nanargmax(similarity))


def control_well(well_profiles: pd.DataFrame, plate: str) -> pd.Series:
    """The negative-control well of ``plate`` closest to the controls' centre (smallest z).

    Raises
    ------
    ProfileTableError
        If the plate has no negative-control well profile.
    """
    if CONTROL_TYPE not in well_profiles.columns:
        raise ProfileTableError(f"well profiles have no column {CONTROL_TYPE}")
    rows = well_profiles[
        (well_profiles[PLATE].astype(str) == plate)
        & (well_profiles[CONTROL_TYPE] == NEGATIVE_CONTROL)
    ]
    if rows.empty:
        raise ProfileTableError(f"plate {plate} has no negative-control well profile")
    values = feature_matrix(rows, feature_columns(rows, numeric_only=True))
    return rows.iloc[int(np.argmin(np.linalg.norm(values, axis=1)))]


def representative_rows(
    cells: pd.DataFrame,
    sides: dict[str, tuple[pd.DataFrame, np.ndarray]],
    well_profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    cell_feature_columns: Sequence[str],
    n: int = 4,
) -> pd.DataFrame:
    """The cells to show: ``n`` per side and ``n`` controls, with a ``role`` column.

    Parameters
    ----------
    cells
        The single-cell table (plate, well, site, label, centroid, features).
    sides
        Role (``"query"``, ``"match"``, ``"contrast"``) -> (wells, vector): each side's
        well profiles and consensus, drawn in this order.
    well_profiles
        Every well profile, to find a control well.
    feature_columns
        Features of the well profiles (to pick each side's most typical well).
    cell_feature_columns
        Features of the single cells (to pick the cells closest to their well's median).
    n
        Cells per side; the ``n`` controls are split between the sides' plates.

    Raises
    ------
    ProfileTableError
        If a side's chosen well has no single cells.
    """
    rows = []
    plates = []
    for role, (wells, vector) in sides.items():
        well = wells.iloc[closest_well(wells, vector, feature_columns)]
        plates.append(str(well[PLATE]))
        picked = _pick(cells, well, cell_feature_columns, n)
        rows.append(picked.assign(role=role))
    plates = list(dict.fromkeys(plates))
    for index, plate in enumerate(plates):
        share = n // len(plates) + (1 if index < n % len(plates) else 0)
        picked = _pick(cells, control_well(well_profiles, plate), cell_feature_columns, share)
        rows.append(picked.assign(role=CONTROL_ROLE))
    return pd.concat(rows, ignore_index=True)


def _pick(cells: pd.DataFrame, well: pd.Series, columns: Sequence[str], n: int) -> pd.DataFrame:
    key = (str(well[PLATE]), str(well[WELL]))
    well_cells = cells_of_wells(cells, [key])
    if well_cells.empty:
        raise ProfileTableError(f"well {key[0]} {key[1]} has no single-cell profiles")
    return representative_cells(well_cells, columns, n)


def read_windows(fields: pd.DataFrame, rows: pd.DataFrame, size: int = WINDOW_PX) -> np.ndarray:
    """Raw (N, C, size, size) windows of the fields around the cells ``rows``, in order.

    Raises
    ------
    PlateFormatError
        Naming a cell's field that has no images.
    """

    def cut(image: np.ndarray, group: pd.DataFrame) -> np.ndarray:
        return cut_windows(image, crop_origins(cell_centers(group), size), size)

    return _per_field(fields, rows, size, cut)


def _per_field(fields: pd.DataFrame, rows: pd.DataFrame, size: int, cut) -> np.ndarray:
    """``cut(image, cells)`` over the fields of ``rows``, each read once, in row order."""
    out = np.zeros((len(rows), len(CHANNELS), size, size), dtype=np.float32)
    positions = pd.Series(np.arange(len(rows)), index=rows.index)
    for (plate, well, site), group in rows.groupby([PLATE, WELL, SITE], sort=False):
        index = fields.index[
            (fields[PLATE].astype(str) == str(plate))
            & (fields[WELL].astype(str) == str(well))
            & (fields[SITE].astype(int) == int(site))
        ]
        if not len(index):
            raise PlateFormatError(f"no images for {plate} {well} site {site}")
        image = read_field(fields.loc[index[0]], missing="zeros")
        out[positions[group.index].to_numpy()] = cut(image, group)
    return out


def cell_window(cells: pd.DataFrame, largest: int = WINDOW_PX, max_fields: int = 50) -> int:
    """Thumbnail size (field pixels, even) that shows one cell: ``CELL_SPAN`` x the median
    distance from a cell centre to its nearest neighbour in the same field.

    Up to ``max_fields`` fields are measured; without two cells in a field, ``largest``.
    """
    nearest = []
    for _, field_cells in list(cells.groupby([PLATE, WELL, SITE], sort=False))[:max_fields]:
        centres = field_cells[[CENTER_Y, CENTER_X]].to_numpy(np.float64)
        if len(centres) < 2:
            continue
        distances = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        np.fill_diagonal(distances, np.inf)
        nearest.append(distances.min(axis=1))
    if not nearest:
        return largest
    size = int(CELL_SPAN * float(np.median(np.concatenate(nearest))))
    return int(np.clip(size - size % 2, MIN_WINDOW_PX, largest))


def shared_limits(windows: np.ndarray) -> np.ndarray:
    """(C, 2) display limits from a stack of windows (the controls'): one contrast for all."""
    if not len(windows):
        raise ProfileTableError("no control cells to set the contrast from")
    return channel_percentiles(np.concatenate(list(np.asarray(windows)), axis=-1))


def sample_cells(
    cells: pd.DataFrame, keys: Sequence[tuple[str, str]], per_well: int, seed: int
) -> pd.DataFrame:
    """Up to ``per_well`` cells of each well ``keys`` (seeded), keeping table order."""
    rng = np.random.default_rng(seed)
    chosen = []
    for key in dict.fromkeys(keys):
        well_cells = cells_of_wells(cells, [key])
        if len(well_cells) > per_well:
            well_cells = well_cells.iloc[np.sort(rng.choice(len(well_cells), per_well, False))]
        chosen.append(well_cells)
    return pd.concat(chosen) if chosen else cells.iloc[:0]


def occlusion_wells(
    cells: pd.DataFrame,
    query_keys: Sequence[tuple[str, str]],
    match_keys: Sequence[tuple[str, str]],
    max_controls: int = 8,
    seed: int = 0,
) -> list[tuple[str, str]]:
    """Control wells to normalise to: up to ``max_controls`` per plate of either side."""
    if CONTROL_TYPE not in cells.columns:
        raise ProfileTableError(f"cell table has no column {CONTROL_TYPE} to find negcon cells")
    rng = np.random.default_rng(seed)
    controls = cells[cells[CONTROL_TYPE] == NEGATIVE_CONTROL]
    chosen: list[tuple[str, str]] = []
    for plate in dict.fromkeys(p for p, _ in [*query_keys, *match_keys]):
        wells = sorted(set(well_keys(controls[controls[PLATE].astype(str) == plate])))
        if not wells:
            raise ProfileTableError(f"plate {plate} has no negative-control cells")
        picks = rng.choice(len(wells), min(max_controls, len(wells)), replace=False)
        chosen += [wells[i] for i in sorted(picks)]
    return chosen


def channel_occlusion(
    encoder: Any,
    cells: pd.DataFrame,
    fields: pd.DataFrame,
    query_keys: Sequence[tuple[str, str]],
    match_keys: Sequence[tuple[str, str]],
    feature_columns: Sequence[str],
    per_well: int = 16,
    max_controls: int = 8,
    seed: int = 0,
    device: str = "cpu",
    channels: Sequence[str] = CHANNELS,
) -> pd.DataFrame:
    """The ViT similarity of the two sides with each channel blanked in turn.

    A sample of cells (``per_well`` per well) of the query's wells, the match's wells and
    up to ``max_controls`` negative-control wells per plate is cut into crops exactly as
    for profiling, and embedded once as is and once per channel with that channel set to
    0 (its background) in every crop. Each embedding set goes through the profiles' steps
    (median per well, robust z-score against the plate's control wells, the well profiles'
    selected ``feature_columns``, median over each side's wells) and the two sides are
    compared by cosine. A channel whose loss lowers the similarity carries the match.

    Returns
    -------
    pandas.DataFrame
        One row for ``"none"`` (nothing blanked: the sample's own similarity, next to which
        the occluded ones are read) and one per channel: ``blanked``, ``similarity``,
        ``change`` (similarity minus the baseline), ``cells`` (crops embedded).
    """
    from napari_phenoscope.models import embed_crops

    names = vit_feature_names(int(encoder.embed_dim))
    missing = [c for c in feature_columns if c not in names]
    if missing:
        raise ProfileTableError(f"the encoder has no output {missing[0]} of the profiles")
    controls = occlusion_wells(cells, query_keys, match_keys, max_controls, seed)
    sample = sample_cells(cells, [*query_keys, *match_keys, *controls], per_well, seed)
    if sample.empty:
        raise ProfileTableError("no single cells in the wells to compare")
    crops = _crops(encoder, fields, sample)
    meta = sample[[PLATE, WELL]].astype(str).reset_index(drop=True)
    control_set = set(controls)
    meta[CONTROL_TYPE] = [NEGATIVE_CONTROL if key in control_set else "" for key in well_keys(meta)]
    rows = []
    baseline = np.nan
    for blanked in (BASELINE, *channels):
        variant = crops.copy()
        if blanked != BASELINE:
            variant[:, list(CHANNELS).index(blanked)] = 0.0
        embeddings = embed_crops(encoder, variant, device=device)
        table = pd.concat([meta, pd.DataFrame(embeddings, columns=names)], axis=1)
        wells = aggregate(table[[PLATE, WELL, *names]], (PLATE, WELL), "median")
        wells[CONTROL_TYPE] = [
            NEGATIVE_CONTROL if key in control_set else "" for key in well_keys(wells)
        ]
        normalized = normalise(wells, samples="negcon", by=PLATE)
        vectors = [
            np.median(feature_matrix(_wells(normalized, keys), list(feature_columns)), axis=0)
            for keys in (query_keys, match_keys)
        ]
        similarity = cosine(*vectors)
        if blanked == BASELINE:
            baseline = similarity
        rows.append(
            {
                "blanked": blanked,
                "similarity": similarity,
                "change": similarity - baseline,
                "cells": len(variant),
            }
        )
    return pd.DataFrame(rows)


def _wells(table: pd.DataFrame, keys: Sequence[tuple[str, str]]) -> pd.DataFrame:
    wanted = set(keys)
    return table[[key in wanted for key in well_keys(table)]]


def _crops(encoder: Any, fields: pd.DataFrame, cells: pd.DataFrame) -> np.ndarray:
    """Crops of ``cells`` as the pipeline cuts them for this encoder, in table order."""
    size = int(encoder.patch_embed.img_size[0])
    return _per_field(
        fields, cells, size, lambda image, group: extract_crops(image, group, size=size)
    )

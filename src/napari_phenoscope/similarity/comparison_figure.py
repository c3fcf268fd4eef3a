# Long (~670 lines): the figure's panels (cells, features, occlusion, null) share one
# layout in inches for a slide and for a narrow dock; apart, each would import the others' geometry.
"""The "why this match" figure: query | match | contrast, for a slide, the dock and the CLI.

Read top to bottom: a title that says the answer ("BI-2536 looks like PLK1 (crispr), not
like BRD4 (crispr)") with both feature sets' similarity, rank and p; single cells of the
three sides in three columns and a row of negative-control cells (one colour and contrast
for all, a scale bar in um); the feature groups in words, with how far each side moves
from the controls; which stain the ViT needs for the match (channel occlusion); and the
match and the contrast against random perturbations (the null).

The layout follows the figure's width: a slide (``SLIDE_SIZE``) puts the cells and the
features side by side, a narrow dock stacks them; ``figure_height`` gives the height a
width needs. Plain matplotlib ``Figure`` objects (no pyplot, no Qt): the dock draws into
its canvas's figure, ``write_comparison`` saves a fresh one at slide size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from napari_phenoscope.constants import CHANNEL_COLORMAPS
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.similarity.comparison import Comparison, comparison_tables
from napari_phenoscope.similarity.explain import MatchExplanation
from napari_phenoscope.similarity.explain_cells import CONTROL_ROLE
from napari_phenoscope.similarity.feature_words import compared_words, group_words

#: A 16:9 slide, in inches; exported at ``EXPORT_DPI`` (2000 x 1125 px).
SLIDE_SIZE = (12.8, 7.2)
EXPORT_DPI = 150
#: Figures at least this wide (inches) put cells and features side by side.
WIDE_FROM = 10.0
#: Smallest on-screen cell tile, in pixels.
MIN_TILE_PX = 96
#: Gap between the query, match and contrast columns, in inches.
COLUMN_GAP = 0.2
#: Gap between cell tiles, as a share of a tile.
TILE_GAP = 1 / 24
TOP_GROUPS = 8
#: The slide layout's bottom band (occlusion and null), in inches.
WIDE_BOTTOM = 2.6
#: The stacked (dock) layout's panels in inches: (title above, plot, labels below).
NARROW_FEATURES = (0.9, TOP_GROUPS * 0.48, 0.5)  # rows of three lines
NARROW_OCCLUSION = (0.6, 1.7, 0.7)
NARROW_NULL = (0.6, 1.9, 0.5)
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
SET_NAMES = {"vit": "ViT", "classical": "classical"}
_CHANNEL_RGB = {
    "blue": "#3050ff",
    "green": "#2ca02c",
    "cyan": "#17becf",
    "red": "#d62728",
    "magenta": "#c51bc5",
}
SIDE_COLOURS = {"match": "#2a6fdb", "contrast": "#d8643b"}
FONT = 9.0
#: Narrower feature panels (inches) than this draw the heat map's colour bar under it.
NARROW_HEAT_MAP_FROM = 5.0
#: Height of a line of text, in font sizes (matplotlib's line spacing 1.0 plus a margin),
#: and the mean width of a character of DejaVu Sans, in font sizes (digits and lower case).
LINE_SPACING = 1.25
CHAR_WIDTH = 0.56
CONTROL_TITLE = "negative controls (same colours, same contrast)"


@dataclass
class CellTiles:
    """Where each representative cell is drawn: (axes, x0, x1, y0, y1, row of the cells)."""

    boxes: list[tuple[object, float, float, float, float, int]] = field(default_factory=list)

    @property
    def axes(self) -> list[object]:
        """The axes that hold cells."""
        return list(dict.fromkeys(box[0] for box in self.boxes))

    def cell_at(self, axes: object, x: float, y: float) -> int | None:
        """Row of ``Comparison.cells`` drawn in ``axes`` at data coordinates (x, y), if any."""
        for where, x0, x1, y0, y1, row in self.boxes:
            if where is axes and x0 <= x < x1 and y0 <= y < y1:
                return row
        return None


def short_name(explanation_name: str) -> str:
    """``"BI-2536 (compound), 4 wells"`` -> ``"BI-2536"``; ``"PLK1 (crispr)"`` -> ``"PLK1"``."""
    return explanation_name.split(",")[0].split(" (")[0]


#: How a biologist names a perturbation of each modality.
MODALITY_WORDS = {"crispr": "knockout", "orf": "overexpression"}


def perturbation_words(explanation_name: str) -> str:
    """``"PLK1 (crispr)"`` -> ``"PLK1 knockout"``; a compound keeps its name (``"BI-2536"``)."""
    head = explanation_name.split(",")[0]
    name, _, modality = head.partition(" (")
    word = MODALITY_WORDS.get(modality.rstrip(")"), "")
    return f"{name} {word}" if word else name


def _sides(comparison: Comparison) -> list[tuple[str, str]]:
    """(role, title) of each cell column."""
    main, contrast = comparison.main, comparison.contrast
    sides = [
        ("query", f"query: {perturbation_words(main.query_name)}"),
        ("match", f"match: {perturbation_words(main.match_name)}"),
    ]
    if contrast is not None:
        sides.append(("contrast", f"contrast: {perturbation_words(contrast.match_name)}"))
    return sides


# --- layout ---------------------------------------------------------------------------------


def _cell_geometry(
    width_in: float, dpi: float, n_sides: int, n_cells: int, height_in: float | None = None
) -> tuple[int, float, float]:
    """(tiles per row, tile size, block height) in inches of the cell columns and controls.

    Two tiles a row when each is still ``MIN_TILE_PX`` on screen (within the ``height_in``
    budget of a slide, if any), else one a row.
    """
    column = (width_in - COLUMN_GAP * (n_sides - 1)) / n_sides
    options = []
    for per_row in (2, 1):
        tile = column / _span(per_row)
        rows = -(-n_cells // per_row)
        if height_in is not None:  # titles + rows of tiles + the control row
            tile = min(tile, (height_in - 0.7) / (_span(rows) + 1))
        controls = _span(-(-n_cells // _controls_per_row(width_in, tile, n_cells))) * tile
        options.append((per_row, tile, 0.6 + _span(rows) * tile + controls))
    two, one = options
    if two[1] * dpi >= MIN_TILE_PX or two[1] >= one[1]:
        return two
    return one


def _controls_per_row(width_in: float, tile: float, n_cells: int) -> int:
    """Control tiles a row: as many of the sides' size as fit in ``width_in``."""
    return int(max(1, min(n_cells, (width_in + TILE_GAP * tile) // (tile * (1 + TILE_GAP)))))


def _gap(size: int) -> int:
    """Gap between tiles of ``size`` pixels, in pixels."""
    return max(1, round(size * TILE_GAP))


def _grid_length(tiles: int, size: int, tile_in: float) -> float:
    """Inches of ``tiles`` tiles of ``size`` px and their gaps, each tile ``tile_in`` wide."""
    return tile_in * (tiles * size + (tiles - 1) * _gap(size)) / size


def _span(tiles: int) -> float:
    """Length of ``tiles`` tiles and the gaps between them, in tiles."""
    return tiles + (tiles - 1) * TILE_GAP


def figure_height(comparison: Comparison, width_in: float, dpi: float = 100.0) -> float:
    """Height (inches) the figure needs at ``width_in``: the slide's, or the stacked dock's."""
    if width_in >= WIDE_FROM:  # the slide's shape, taller where cells would be < 96 px
        rows = -(-_cells_per_side(comparison) // 2)
        cells = 0.7 + (_span(rows) + 1) * MIN_TILE_PX / dpi
        needed = _headline_height(comparison, width_in) + cells + WIDE_BOTTOM + 0.3
        return max(SLIDE_SIZE[1] * width_in / SLIDE_SIZE[0], needed)
    inner = width_in - 0.3
    cells = _cell_geometry(inner, dpi, len(_sides(comparison)), _cells_per_side(comparison))[2]
    panels = sum(NARROW_FEATURES) + sum(NARROW_OCCLUSION) + sum(NARROW_NULL)
    return _headline_height(comparison, width_in) + cells + 0.5 + panels + 0.4


def _cells_per_side(comparison: Comparison) -> int:
    if comparison.cells is None:
        return 1
    return int(comparison.cells["role"].value_counts().max())


# --- drawing --------------------------------------------------------------------------------


def comparison_figure(comparison: Comparison, size: tuple[float, float] = SLIDE_SIZE) -> Figure:
    """A new figure of the whole comparison (slide size by default)."""
    figure = Figure(figsize=size)
    draw_comparison(figure, comparison)
    return figure


def draw_comparison(figure: Figure, comparison: Comparison) -> CellTiles:
    """Draw the comparison into ``figure`` (cleared first) for its size; where the cells are."""
    figure.clear()
    figure.set_facecolor("white")
    width, height = figure.get_size_inches()
    dpi = figure.dpi
    inches = _Inches(width, height)
    y = _headline(figure, comparison, inches)
    wide = width >= WIDE_FROM
    if wide:
        left_w = 0.5 * (width - 0.6)
        bottom = WIDE_BOTTOM
        tiles = _cells(figure, comparison, inches, (0.3, y, left_w, y - bottom - 0.3), dpi)
        right = 0.3 + left_w + 0.4
        _features(
            figure, comparison, inches, (right, y - 0.85, width - right - 0.1, y - bottom - 1.2)
        )
        _occlusion(figure, comparison, inches, (1.1, 0.6, width / 2 - 1.5, 1.6))
        _null(figure, comparison, inches, (width / 2 + 0.6, 0.6, width / 2 - 0.9, 1.6))
    else:
        inner = width - 0.3
        tiles = _cells(figure, comparison, inches, (0.15, y, inner, None), dpi)
        y -= _cell_geometry(inner, dpi, len(_sides(comparison)), _cells_per_side(comparison))[2]
        y -= 0.5 + NARROW_FEATURES[0]
        _features(figure, comparison, inches, (0.1, y, width - 0.2, NARROW_FEATURES[1]))
        y -= sum(NARROW_FEATURES[1:]) + NARROW_OCCLUSION[0]
        _occlusion(
            figure,
            comparison,
            inches,
            (1.3, y - NARROW_OCCLUSION[1], width - 1.6, NARROW_OCCLUSION[1]),
        )
        y -= sum(NARROW_OCCLUSION[1:]) + NARROW_NULL[0]
        _null(figure, comparison, inches, (0.7, y - NARROW_NULL[1], width - 1.0, NARROW_NULL[1]))
    if comparison.notes:
        figure.text(
            0.01,
            0.003,
            _wrap("Not shown: " + "; ".join(comparison.notes), width * 14),
            fontsize=FONT - 1.5,
            color="#777777",
            va="bottom",
        )
    return tiles


@dataclass
class _Inches:
    """Figure coordinates from inches measured from the top-left corner."""

    width: float
    height: float

    def rect(self, left: float, top: float, width: float, height: float) -> list[float]:
        return [
            left / self.width,
            (top - height) / self.height,
            width / self.width,
            height / self.height,
        ]

    def point(self, left: float, top: float) -> tuple[float, float]:
        return left / self.width, top / self.height


def _headline_text(comparison: Comparison, width_in: float) -> tuple[str, str]:
    """(the verdict, the numbers of every feature set), wrapped for ``width_in``."""
    main, contrast = comparison.main, comparison.contrast
    query, match = perturbation_words(main.query_name), perturbation_words(main.match_name)
    other = perturbation_words(contrast.match_name) if contrast is not None else ""
    if contrast is None:
        verdict = f"{query} vs {match}"
    elif main.similarity >= contrast.similarity:
        verdict = f"{query} looks like {match}, not like {other}"
    else:
        verdict = f"{query} looks more like {other} than like {match}"
    lines = []
    for name, explanation in comparison.explanations.items():
        parts = [_numbers(explanation)]
        if name in comparison.contrasts:
            parts.append(_numbers(comparison.contrasts[name]))
        lines.append(f"{SET_NAMES.get(name, name)}:  " + "   |   ".join(parts))
    numbers = "\n".join(_wrap(line, width_in * 12, "   |   ") for line in lines)
    return _wrap(verdict, width_in * 7.5), numbers


def _headline_height(comparison: Comparison, width_in: float) -> float:
    verdict, numbers = _headline_text(comparison, width_in)
    return 0.15 + 0.32 * (verdict.count("\n") + 1) + 0.2 * (numbers.count("\n") + 1) + 0.2


def _headline(figure: Figure, comparison: Comparison, inches: _Inches) -> float:
    """Title and numbers; returns the top (inches from the bottom) left for the rest."""
    verdict, numbers = _headline_text(comparison, inches.width)
    top = inches.height - 0.15
    figure.text(*inches.point(0.25, top), verdict, fontsize=FONT + 5, weight="bold", va="top")
    lines_top = top - 0.32 * (verdict.count("\n") + 1)
    figure.text(*inches.point(0.25, lines_top), numbers, fontsize=FONT, va="top", color="#333333")
    return inches.height - _headline_height(comparison, inches.width)


def _numbers(explanation: MatchExplanation) -> str:
    return (
        f"{short_name(explanation.match_name)} {explanation.similarity:+.2f} "
        f"(#{explanation.rank} of {explanation.n_ranked}, p {explanation.p_value:.2g})"
    )


def _wrap(text: str, width: float, separator: str = " ") -> str:
    """``text`` in lines of at most ``width`` characters, broken at ``separator``."""
    words, lines, line = text.split(separator), [], ""
    joiner = separator if separator != " " else " "
    for word in words:
        if line and len(line) + len(word) + len(joiner) > int(width):
            lines.append(line)
            line = ("      " if separator != " " else "") + word
        else:
            line = f"{line}{joiner}{word}" if line else word
    return "\n".join([*lines, line])


def _two_lines(sentence: str, width: float, max_lines: int | None = None) -> str:
    """ "subject: change" as the subject over the change, each wrapped to ``width``.

    With ``max_lines``, the label keeps to that many lines (the height of its heat-map row):
    the subject takes one, the change the rest, and what does not fit ends in "…" (every
    group's numbers are in ``_groups.csv``).
    """
    subject, _, change = sentence.partition(": ")
    if not change:
        return _clipped(_wrap(sentence, width).split("\n"), width, max_lines)
    subject_lines = _wrap(subject, width).split("\n")
    change_lines = _wrap(change, width).split("\n")
    if max_lines is None:
        return "\n".join(subject_lines) + ":\n" + "\n".join(change_lines)
    if max_lines < 2:
        return _clipped(_wrap(sentence, width).split("\n"), width, 1)
    head = _clipped(subject_lines, width, 1)
    return f"{head}:\n" + _clipped(change_lines, width, max_lines - 1)


def _clipped(lines: list[str], width: float, max_lines: int | None) -> str:
    """``lines`` cut to ``max_lines``, the last ending in "…" if anything was left out."""
    if max_lines is None or len(lines) <= max_lines:
        return "\n".join(lines)
    kept = lines[:max_lines]
    last = kept[-1]
    if len(last) + 1 > int(width):  # room for the "…": cut at a word where there is one
        cut = last[: max(int(width) - 1, 1)]
        last = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return "\n".join([*kept[:-1], last.rstrip(" ,") + "…"])


def _empty(figure: Figure, rect: list[float], text: str) -> None:
    axes = figure.add_axes(rect)
    axes.set_axis_off()
    axes.text(
        0.5,
        0.5,
        _wrap(text, 60),
        ha="center",
        va="center",
        color="#777777",
        fontsize=FONT,
        transform=axes.transAxes,
        wrap=True,
    )


def _cells(figure, comparison, inches, box, dpi) -> CellTiles:
    left, top, width, height = box
    tiles = CellTiles()
    sides = _sides(comparison)
    n_cells = _cells_per_side(comparison)
    per_row, tile, block = _cell_geometry(width, dpi, len(sides), n_cells, height)
    cells, thumbnails = comparison.cells, comparison.thumbnails
    if cells is None or thumbnails is None:
        _empty(
            figure,
            inches.rect(left, top, width, min(block, 1.5)),
            "no cells: " + ("; ".join(comparison.notes) or "nothing to show"),
        )
        return tiles
    column = (width - COLUMN_GAP * (len(sides) - 1)) / len(sides)
    size = thumbnails.shape[1]
    roles = cells["role"].to_numpy()
    for index, (role, title) in enumerate(sides):
        x = left + index * (column + COLUMN_GAP)
        positions = np.flatnonzero(roles == role)
        rows = -(-max(len(positions), 1) // per_row)
        grid = (_grid_length(per_row, size, tile), _grid_length(rows, size, tile))
        axes = figure.add_axes(inches.rect(x, top - 0.3, *grid))
        _tile_grid(axes, thumbnails, positions, per_row, tiles)
        axes.set_title(
            _wrap(title, column * 11),
            fontsize=FONT + 1,
            loc="left",
            color=SIDE_COLOURS.get(role, "black"),
            weight="bold",
        )
        if index == 0:
            _scale_bar(axes, comparison.pixel_size, thumbnails.shape[1])
    controls = np.flatnonzero(roles == CONTROL_ROLE)
    per_row = _controls_per_row(width, tile, len(controls))
    control_rows = -(-max(len(controls), 1) // per_row)
    grid = (_grid_length(per_row, size, tile), _grid_length(control_rows, size, tile))
    axes = figure.add_axes(inches.rect(left, top - block + grid[1], *grid))
    _tile_grid(axes, thumbnails, controls, per_row, tiles)
    axes.set_title(_wrap(CONTROL_TITLE, width * 14), fontsize=FONT, loc="left")
    return tiles


def _tile_grid(axes, thumbnails, positions, per_row: int, tiles: CellTiles) -> None:
    size = thumbnails.shape[1]
    gap = _gap(size)
    rows = -(-max(len(positions), 1) // per_row)
    canvas = np.ones((rows * (size + gap) - gap, per_row * (size + gap) - gap, 3), np.float32)
    for index, position in enumerate(positions):
        y0, x0 = (index // per_row) * (size + gap), (index % per_row) * (size + gap)
        canvas[y0 : y0 + size, x0 : x0 + size] = thumbnails[position]
        tiles.boxes.append((axes, x0, x0 + size, y0, y0 + size, int(position)))
    axes.imshow(canvas, interpolation="nearest", aspect="equal")
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_visible(False)


def _scale_bar(axes, pixel_size: float | None, size: int) -> None:
    if not pixel_size:
        return
    microns = next((m for m in (20, 10, 5, 2) if m / pixel_size <= 0.5 * size), 1)
    length = microns / pixel_size
    x0, y = size - 4 - length, size - 6
    axes.plot([x0, x0 + length], [y, y], color="white", linewidth=3, solid_capstyle="butt")
    axes.text(
        x0 + length / 2,
        y - 3,
        f"{microns} µm",
        color="white",
        ha="center",
        va="bottom",
        fontsize=FONT - 1,
        weight="bold",
    )


def feature_rows(comparison: Comparison, n: int = TOP_GROUPS) -> pd.DataFrame:
    """The feature groups the figure names: the match's largest shares, then the contrast's.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``words`` (``group_words``), ``query``, ``match``, ``contrast``
        (mean robust z-score against the controls; NaN without a contrast), ``sentence``
        (``compared_words`` of the query and the side the group is listed for) and ``side``.
    """
    attribution = comparison.attribution
    if attribution is None:
        return pd.DataFrame()
    contrast = comparison.contrasts.get("classical")
    match_groups = attribution.groups.set_index("group")
    contrast_groups = contrast.groups.set_index("group") if contrast is not None else None
    chosen = list(attribution.groups["group"].head(n - (2 if contrast is not None else 0)))
    if contrast_groups is not None:  # the groups that push query and contrast apart
        apart = contrast.groups.sort_values("contribution")["group"]
        chosen += [g for g in apart if g not in chosen][: n - len(chosen)]
    query, match = short_name(attribution.query_name), short_name(attribution.match_name)
    rows = []
    for group in chosen:
        row = match_groups.loc[group]
        words = group_words(row["compartment"], row["channel"], row["family"])
        other = contrast_groups.loc[group] if contrast_groups is not None else None
        listed_for = "contrast" if len(rows) >= n - 2 and other is not None else "match"
        side, side_row = (
            (short_name(contrast.match_name), other) if listed_for == "contrast" else (match, row)
        )
        sentence = compared_words(
            words,
            [
                (query, row["query"], _size(row, "query")),
                (side, side_row["match"], _size(side_row, "match")),
            ],
        )
        rows.append(
            {
                "group": group,
                "words": words,
                "query": row["query z"],
                "match": row["match z"],
                "contrast": other["match z"] if other is not None else np.nan,
                "sentence": sentence,
                "side": listed_for,
            }
        )
    return pd.DataFrame(rows)


def _size(row: pd.Series, side: str) -> float:
    word = row[side]
    return float(row[f"{side} z"]) if word in ("up", "down") else float(row[f"{side} rms"])


def _features(figure, comparison, inches, box) -> None:
    left, top, width, height = box
    rows = feature_rows(comparison)
    # the labels take what the heat map leaves, the heat map at least 1.6 in (three columns
    # of "+69.8" and their names side by side); in a narrow dock the colour bar goes under
    # the heat map, so that the labels keep its 0.9 in
    beside = width >= NARROW_HEAT_MAP_FROM
    bar_in = 0.9 if beside else 0.2
    labels = min(3.8, 0.58 * width, width - bar_in - 1.6)
    rect = inches.rect(left + labels, top, min(width - labels - bar_in, 2.4), height)
    if rows.empty:
        _empty(figure, rect, "no classical profiles: no features in words")
        return
    columns = ["query", "match"] + (["contrast"] if comparison.contrast is not None else [])
    values = rows[columns].to_numpy(np.float64)
    axes = figure.add_axes(rect)
    # a few texture groups reach 50 MAD: the colours follow the bulk, the numbers say all
    limit = max(2.0, float(np.nanpercentile(np.abs(values), 80)))
    image = axes.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    for (r, c), value in np.ndenumerate(values):
        if np.isfinite(value):
            axes.text(
                c,
                r,
                f"{value:+.1f}",
                ha="center",
                va="center",
                fontsize=FONT - 0.5,
                color="white" if abs(value) > 0.6 * limit else "black",
            )
    names = {
        "query": short_name(comparison.main.query_name),
        "match": short_name(comparison.main.match_name),
        "contrast": short_name(comparison.contrast.match_name) if comparison.contrast else "",
    }
    axes.set_xticks(range(len(columns)))
    axes.set_xticklabels([names[c] for c in columns], fontsize=FONT)
    axes.xaxis.tick_top()
    for label, column in zip(axes.get_xticklabels(), columns, strict=True):
        label.set_color(SIDE_COLOURS.get(column, "black"))
    axes.set_yticks(range(len(rows)))
    # each label keeps to its row's height, so that neighbouring rows' labels never overlap:
    # as many lines as a row holds (at most three) at a size that fits, wrapped to the width
    row_in = height / len(rows)
    label_font = min(FONT - 0.5, 72 * row_in / (2 * LINE_SPACING))
    lines = int(min(3, row_in * 72 / (label_font * LINE_SPACING)))
    chars = labels * 72 / (label_font * CHAR_WIDTH)
    axes.set_yticklabels(
        [_two_lines(sentence, chars, lines) for sentence in rows["sentence"]],
        fontsize=label_font,
        linespacing=1.0,
    )
    axes.tick_params(length=0)
    total = len(comparison.attribution.groups)
    title = (
        "What the cells share, and what sets the contrast apart: each feature group's "
        "mean change from the negative controls, in MAD"
    )
    figure.text(
        *inches.point(left, top + 0.55), _wrap(title, width * 11), fontsize=FONT + 1, va="bottom"
    )
    if total > len(rows):
        axes.set_xlabel(
            f"+ {total - len(rows)} other groups (smaller shares)",
            fontsize=FONT - 1,
            color="#555555",
        )
    if beside:
        bar = figure.colorbar(image, ax=axes, fraction=0.08, pad=0.03)
    else:
        bar = figure.colorbar(image, ax=axes, orientation="horizontal", fraction=0.05, pad=0.1)
    bar.set_label("MAD from controls", fontsize=FONT - 1)
    bar.ax.tick_params(labelsize=FONT - 1)


def _occlusion(figure, comparison, inches, box) -> None:
    left, bottom, width, height = box
    rect = inches.rect(left, bottom + height, width, height)
    table = comparison.occlusion
    if table is None:
        _empty(
            figure,
            rect,
            "Which stain does the ViT need? Not computed (needs the ViT "
            "profiles, single cells, the images and the encoder)",
        )
        return
    axes = figure.add_axes(rect)
    baseline = float(table["similarity"].iloc[0])
    blanked = table.iloc[1:]
    y = np.arange(len(blanked))[::-1]
    colours = [_CHANNEL_RGB[CHANNEL_COLORMAPS[c]] for c in blanked["blanked"]]
    axes.barh(y, blanked["similarity"], color=colours, height=0.7)
    axes.axvline(baseline, color="black", linewidth=1.2, linestyle="--")
    axes.set_yticks(y)
    axes.set_yticklabels([f"without {c}" for c in blanked["blanked"]], fontsize=FONT)
    low = min(0.0, float(blanked["similarity"].min()))
    axes.set_xlim(low, max(1.0, baseline))
    query, match = short_name(comparison.main.query_name), short_name(comparison.main.match_name)
    label = f"ViT similarity {query} ~ {match} with one stain hidden (dashed: all, {baseline:+.2f})"
    axes.set_xlabel(_wrap(label, width * 13), fontsize=FONT)
    title = (
        f"Which stain does the ViT need for this match? A shorter bar: that stain "
        f"carries it ({int(table['cells'].iloc[0])} cells)"
    )
    axes.text(
        -left / width,
        1.04,
        _wrap(title, (width + left) * 10),
        fontsize=FONT + 1,
        transform=axes.transAxes,
        va="bottom",
    )
    axes.tick_params(axis="x", labelsize=FONT - 1)


def _null(figure, comparison, inches, box) -> None:
    left, bottom, width, height = box
    axes = figure.add_axes(inches.rect(left, bottom + height, width, height))
    query = short_name(comparison.main.query_name)
    styles = {"vit": "#7b4bd1", "classical": "#2a9d8f"}
    for name, explanation in comparison.explanations.items():
        colour = styles.get(name, "#555555")
        null = explanation.null[np.isfinite(explanation.null)]
        axes.hist(
            null,
            bins=40,
            range=(-1, 1),
            alpha=0.35,
            color=colour,
            label=f"{SET_NAMES.get(name, name)}: random {len(explanation.match_wells)}-well sets",
        )
        for side, item in (("match", explanation), ("contrast", comparison.contrasts.get(name))):
            if item is None:
                continue
            axes.axvline(
                item.similarity,
                color=colour,
                linewidth=2,
                linestyle="-" if side == "match" else ":",
            )
    axes.set_xlim(-1, 1)
    axes.set_xlabel(f"similarity to {query} (solid: match, dotted: contrast)", fontsize=FONT)
    axes.set_ylabel("random sets", fontsize=FONT)
    title = "More than chance? The match and the contrast against random perturbations"
    axes.set_title(_wrap(title, width * 10), fontsize=FONT + 1, loc="left")
    axes.legend(fontsize=FONT - 1, loc="upper left", frameon=False)
    axes.tick_params(labelsize=FONT - 1)


def figure_path(path: str | Path) -> Path:
    """``path`` as a Path if it names a PNG, SVG or PDF file; a one-line error otherwise."""
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise ProfileTableError(f"{path}: the figure must be .png, .svg or .pdf")
    return path


def write_comparison(comparison: Comparison, out: str | Path) -> list[Path]:
    """Write the figure at slide size (PNG, SVG or PDF, by suffix) and its CSV tables.

    Returns
    -------
    list of Path
        The figure first, then ``<stem>_<table>.csv`` beside it.
    """
    out = figure_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure = comparison_figure(comparison)
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
    figure.savefig(out, dpi=EXPORT_DPI, metadata=metadata[out.suffix.lower().lstrip(".")])
    written = [out]
    for name, table in comparison_tables(comparison).items():
        path = out.with_name(f"{out.stem}_{name}.csv")
        table.to_csv(path, index=False)
        written.append(path)
    return written

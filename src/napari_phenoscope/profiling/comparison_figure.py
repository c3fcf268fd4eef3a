"""The "why this match" figure: one matplotlib page, for a slide, the dock and the CLI.

Top: representative cells of the query, the match and the negative controls (one contrast
for all) and the ViT attention over one cell of each side. Middle: the feature groups that
make the classical similarity (bars that add up to it, with how each side differs from the
controls) and the ViT similarity with each channel blanked. Bottom: how sure (the
similarity against the null of random perturbations, per feature set, and the replicate
consistency of both sides, one dot per well).

Plain matplotlib ``Figure`` objects (no pyplot, no Qt): the dock draws into its canvas's
figure, ``write_comparison`` saves a fresh one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from napari_phenoscope.constants import CHANNEL_COLORMAPS, CHANNELS
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.profiling.attribution import describe_groups
from napari_phenoscope.profiling.comparison import Comparison, comparison_tables
from napari_phenoscope.profiling.explain import MatchExplanation
from napari_phenoscope.profiling.explain_cells import ROLES

FIGURE_SIZE = (16.0, 10.5)
TOP_GROUPS = 12
POSITIVE, NEGATIVE = "#3b7dd8", "#d8643b"
SET_COLOURS = {"classical": "#2a9d8f", "vit": "#7b4bd1"}
ROLE_TEXT = {"query": "query", "match": "match", "control": "negative controls"}
_CHANNEL_RGB = {"blue": "#3050ff", "green": "#2ca02c", "cyan": "#17becf", "red": "#d62728",
                "magenta": "#c51bc5"}  # fmt: skip


@dataclass
class CellTiles:
    """Where each representative cell is drawn: its axes and (x0, x1, y0, y1) per cell row."""

    axes: object = None
    boxes: list[tuple[float, float, float, float, int]] = field(default_factory=list)

    def cell_at(self, x: float, y: float) -> int | None:
        """Row of ``Comparison.cells`` drawn at data coordinates (x, y), if any."""
        for x0, x1, y0, y1, row in self.boxes:
            if x0 <= x < x1 and y0 <= y < y1:
                return row
        return None


def comparison_figure(comparison: Comparison) -> Figure:
    """A new figure of the whole comparison."""
    figure = Figure(figsize=FIGURE_SIZE)
    draw_comparison(figure, comparison)
    return figure


def draw_comparison(figure: Figure, comparison: Comparison) -> CellTiles:
    """Draw the comparison into ``figure`` (cleared first); returns where the cells are."""
    figure.clear()
    main = comparison.main
    figure.suptitle(
        f"{main.query_name}  vs  {main.match_name}: why close, or why far "
        f"({main.feature_set} similarity {main.similarity:+.2f}, #{main.rank} of {main.n_ranked})",
        fontsize=14,
        y=0.99,
    )
    grid = figure.add_gridspec(
        3, 4, height_ratios=(1.15, 1.55, 1.0), hspace=0.45, wspace=0.5,
        left=0.17, right=0.98, top=0.92, bottom=0.07,
    )  # fmt: skip
    tiles = _cells(figure.add_subplot(grid[0, :2]), comparison)
    _attention(figure, grid[0, 2:], comparison)
    attribution = comparison.attribution
    if attribution is not None:
        figure.text(0.5, 0.945, describe_groups(attribution.groups, 3), ha="center", fontsize=9.5,
                    color="#333333")  # fmt: skip
        bars, dots = figure.add_subplot(grid[1, :2]), figure.add_subplot(grid[1, 2])
        _groups(bars, dots, attribution)
    else:
        _empty(figure.add_subplot(grid[1, :3]), "no classical profiles: no feature groups")
    _occlusion(figure.add_subplot(grid[1, 3]), comparison)
    _null(figure.add_subplot(grid[2, :2]), comparison)
    _replicates(figure.add_subplot(grid[2, 2]), comparison)
    _numbers(figure.add_subplot(grid[2, 3]), comparison)
    if comparison.notes:
        figure.text(0.01, 0.005, "Not shown: " + "; ".join(comparison.notes), fontsize=8,
                    color="#777777")  # fmt: skip
    return tiles


def _empty(axes, text: str) -> None:
    axes.set_axis_off()
    axes.text(0.5, 0.5, text, ha="center", va="center", wrap=True, color="#777777")


def _cells(axes, comparison: Comparison) -> CellTiles:
    tiles = CellTiles(axes)
    cells, thumbnails = comparison.cells, comparison.thumbnails
    if cells is None or thumbnails is None:
        _empty(axes, "no cells: " + ("; ".join(comparison.notes) or "nothing to show"))
        return tiles
    size = thumbnails.shape[1]
    gap = max(2, size // 24)
    per_row = max(int((cells["role"] == role).sum()) for role in ROLES)
    canvas = np.ones((len(ROLES) * (size + gap), per_row * (size + gap), 3), np.float32)
    for row, role in enumerate(ROLES):
        positions = np.flatnonzero((cells["role"] == role).to_numpy())
        for column, position in enumerate(positions):
            y0, x0 = row * (size + gap), column * (size + gap)
            canvas[y0 : y0 + size, x0 : x0 + size] = thumbnails[position]
            tiles.boxes.append((x0, x0 + size, y0, y0 + size, int(position)))
    axes.imshow(canvas, interpolation="nearest")
    names = {"query": comparison.main.query_name, "match": comparison.main.match_name}
    axes.set_yticks([row * (size + gap) + size / 2 for row in range(len(ROLES))])
    axes.set_yticklabels([_wrap(names.get(r, ROLE_TEXT[r]), 22) for r in ROLES], fontsize=9)
    axes.set_xticks([])
    axes.set_title("representative cells (one contrast for all; click to open the field)",
                   fontsize=10)  # fmt: skip
    return tiles


def _wrap(text: str, width: int) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def _attention(figure: Figure, slot, comparison: Comparison) -> None:
    if comparison.attention is None:
        _empty(figure.add_subplot(slot), "no ViT attention (needs images, cells and the ViT)")
        return
    from napari_phenoscope.features.composite import channel_composite

    crops, maps = comparison.attention
    inner = slot.subgridspec(1, 4, wspace=0.05)
    limits = np.tile([0.0, 1.0], (len(CHANNELS), 1))
    names = {"query": comparison.main.query_name, "match": comparison.main.match_name}
    for index, (crop, attention, role) in enumerate(zip(crops, maps, ROLES[:2], strict=False)):
        rgb = channel_composite(crop, limits)
        for offset, overlay in enumerate((False, True)):
            axes = figure.add_subplot(inner[0, 2 * index + offset])
            axes.imshow(rgb, interpolation="nearest")
            if overlay:
                axes.imshow(attention, cmap="inferno", alpha=0.6, vmin=0, vmax=1)
            axes.set_axis_off()
            title = "ViT attention" if overlay else _wrap(names[role], 18)
            axes.set_title(title, fontsize=8.5)


def _groups(bars, dots, explanation: MatchExplanation) -> None:
    groups = explanation.groups
    top = groups.head(TOP_GROUPS)
    rest = groups.iloc[TOP_GROUPS:]
    labels = [
        f"{row['group']}  ({row['query'] or '~'} / {row['match'] or '~'})"
        for _, row in top.iterrows()
    ]
    values = list(top["contribution"])
    if len(rest):
        labels.append(f"other {len(rest)} groups")
        values.append(float(rest["contribution"].sum()))
    y = np.arange(len(values))[::-1]
    colours = [POSITIVE if v >= 0 else NEGATIVE for v in values]
    bars.barh(y, values, color=colours)
    bars.set_yticks(y)
    bars.set_yticklabels(labels, fontsize=8)
    bars.axvline(0, color="black", linewidth=0.8)
    bars.set_xlabel(
        f"share of the classical cosine similarity (all {len(groups)} groups add up to "
        f"{explanation.similarity:+.2f})",
        fontsize=9,
    )
    bars.set_title("what drives the similarity (query / match vs controls)", fontsize=10)
    bars.tick_params(axis="x", labelsize=8)
    top_y = y[: len(top)]
    dots.scatter(top["query z"], top_y, marker="o", color="#222222", label="query", zorder=3)
    dots.scatter(top["match z"], top_y, marker="D", color="#e09f1f", label="match", zorder=3)
    dots.axvline(0, color="black", linewidth=0.8)
    dots.set_xscale("symlog", linthresh=1.0)  # a few z-scores of 40 must not hide the 2s
    dots.set_ylim(bars.get_ylim())
    dots.set_yticks([])
    dots.set_xlabel("mean robust z-score vs controls", fontsize=9)
    dots.set_title("difference from controls", fontsize=10)
    dots.legend(fontsize=8, loc="best")
    dots.tick_params(axis="x", labelsize=8)


def _occlusion(axes, comparison: Comparison) -> None:
    table = comparison.occlusion
    if table is None:
        _empty(axes, "no ViT channel occlusion (needs images, cells and the ViT)")
        return
    baseline = float(table["similarity"].iloc[0])
    blanked = table.iloc[1:]
    y = np.arange(len(blanked))[::-1]
    colours = [_CHANNEL_RGB[CHANNEL_COLORMAPS[c]] for c in blanked["blanked"]]
    axes.barh(y, blanked["change"], color=colours)
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_yticks(y)
    axes.set_yticklabels(
        [
            f"{c} blanked: {v:+.2f}"
            for c, v in zip(blanked["blanked"], blanked["similarity"], strict=True)
        ],
        fontsize=8.5,
    )
    axes.set_xlabel(f"change of the ViT similarity (nothing blanked: {baseline:+.2f})", fontsize=9)
    axes.set_title(f"ViT channel occlusion ({int(table['cells'].iloc[0])} cells)", fontsize=10)
    axes.tick_params(axis="x", labelsize=8)


def _null(axes, comparison: Comparison) -> None:
    for index, (name, explanation) in enumerate(comparison.explanations.items()):
        colour = SET_COLOURS.get(name, "#555555")
        null = explanation.null[np.isfinite(explanation.null)]
        axes.hist(null, bins=40, range=(-1, 1), alpha=0.45, color=colour,
                  label=f"{name}: random {len(explanation.match_wells)}-well sets")  # fmt: skip
        axes.axvline(explanation.similarity, color=colour, linewidth=2.2)
        axes.annotate(f"{name} {explanation.similarity:+.2f} (p {explanation.p_value:.2g})",
                      (explanation.similarity, 1 - 0.09 * (index + 1)),
                      xycoords=("data", "axes fraction"), color=colour, fontsize=8.5,
                      ha="right" if explanation.similarity > 0 else "left")  # fmt: skip
    axes.set_xlim(-1, 1)
    axes.set_xlabel("cosine similarity to the query", fontsize=9)
    axes.set_ylabel("random perturbations", fontsize=9)
    axes.set_title("how sure: the match (line) against the null", fontsize=10)
    axes.legend(fontsize=8, loc="upper left")
    axes.tick_params(labelsize=8)


def _replicates(axes, comparison: Comparison) -> None:
    categories = [("query", "to own replicates"), ("match", "to own replicates"),
                  ("query", "to the other side"), ("match", "to the other side")]  # fmt: skip
    labels = [
        "query\nreplicates",
        "match\nreplicates",
        "query wells\nto match",
        "match wells\nto query",
    ]
    sets = list(comparison.explanations)
    rng = np.random.default_rng(0)  # jitter only
    for offset, name in enumerate(sets):
        table = comparison.explanations[name].replicates
        shift = (offset - (len(sets) - 1) / 2) * 0.22
        for index, (side, column) in enumerate(categories):
            values = table.loc[table["side"] == side, column].dropna().to_numpy()
            x = index + shift + rng.uniform(-0.06, 0.06, len(values))
            axes.scatter(x, values, s=16, color=SET_COLOURS.get(name, "#555555"),
                         label=name if index == 0 else None)  # fmt: skip
    axes.set_xticks(range(len(categories)))
    axes.set_xticklabels(labels, fontsize=7.5)
    axes.set_ylim(-1.05, 1.05)
    axes.axhline(0, color="#999999", linewidth=0.6)
    axes.set_ylabel("cosine similarity, one dot per well", fontsize=9)
    axes.set_title("replicate consistency", fontsize=10)
    axes.legend(fontsize=8, loc="lower left")
    axes.tick_params(axis="y", labelsize=8)


def _numbers(axes, comparison: Comparison) -> None:
    axes.set_axis_off()
    lines = []
    for name, explanation in comparison.explanations.items():
        record = explanation.summary()
        lines += [
            f"{name}",
            f"  similarity {explanation.similarity:+.3f}",
            f"  rank #{explanation.rank} of {explanation.n_ranked} perturbations",
            f"  null p = {explanation.p_value:.3g} ({len(explanation.null)} random sets)",
            f"  replicate consistency: query {_number(record['query replicate consistency'])}",
            f"                         match {_number(record['match replicate consistency'])}",
        ]
    axes.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=7.5, family="monospace")
    axes.set_title("numbers", fontsize=10, loc="left")


def _number(value: object) -> str:
    value = float(value)  # type: ignore[arg-type]
    return "n/a (1 well)" if np.isnan(value) else f"{value:+.2f}"


def figure_path(path: str | Path) -> Path:
    """``path`` as a Path if it names a PNG or SVG file; a one-line error otherwise."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise ProfileTableError(f"{path}: the figure must be .png or .svg")
    return path


def write_comparison(comparison: Comparison, out: str | Path) -> list[Path]:
    """Write the figure (PNG or SVG, by suffix) and ``<stem>_<table>.csv`` beside it.

    Returns
    -------
    list of Path
        The figure first, then the CSV files.
    """
    out = figure_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure = comparison_figure(comparison)
    figure.savefig(out, dpi=150)
    written = [out]
    for name, table in comparison_tables(comparison).items():
        path = out.with_name(f"{out.stem}_{name}.csv")
        table.to_csv(path, index=False)
        written.append(path)
    return written

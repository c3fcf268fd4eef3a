"""napari's theme for matplotlib figures: the docks' plots wear the viewer's colours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Theme:
    """The figure's colours: napari's background, text and muted text."""

    background: str = "#23242b"
    text: str = "#f0f1f2"
    muted: str = "#9aa0a6"


def napari_theme(viewer: Any) -> Theme:
    """The figure colours of the viewer's napari theme (dark by default)."""
    from napari.utils.theme import get_theme

    try:
        theme = get_theme(viewer.theme)
    except (KeyError, ValueError):
        return Theme()
    return Theme(
        background=theme.background.as_hex(),
        text=theme.text.as_hex(),
        muted=theme.highlight.as_hex(),
    )


def theme_axes(figure: Any, axes: Any, viewer: Any) -> None:
    """Paint a matplotlib figure and its axes (ticks, labels, title, legend) in the
    viewer's napari theme."""
    theme = napari_theme(viewer)
    figure.set_facecolor(theme.background)
    axes.set_facecolor(theme.background)
    for spine in axes.spines.values():
        spine.set_color(theme.muted)
    axes.tick_params(colors=theme.text)
    for text in (axes.xaxis.label, axes.yaxis.label, axes.title):
        text.set_color(theme.text)
    legend = axes.get_legend()
    if legend is not None:
        legend.get_frame().set_facecolor(theme.background)
        for text in legend.get_texts():
            text.set_color(theme.text)

"""Place the labels of marked points so that they do not hide each other.

Pure geometry in screen units (points or pixels, any unit that is the same on both axes):
labels are placed greedily in the order given (the caller sorts by importance: query,
targets, match), each at the first candidate offset around its anchor whose box overlaps
no label placed before it. Candidates grow in rings, so each label stays near its point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Directions tried on each ring, in order: up-right first (the usual label place).
_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))


def _overlaps(box: tuple[float, float, float, float], placed: list) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in placed)


def _fits(box: tuple[float, float, float, float], placed: list, bounds) -> bool:
    inside = bounds is None or (
        box[0] >= bounds[0] and box[1] >= bounds[1] and box[2] <= bounds[2] and box[3] <= bounds[3]
    )
    return inside and not _overlaps(box, placed)


def label_box(
    anchor: Sequence[float], offset: Sequence[float], size: Sequence[float]
) -> tuple[float, float, float, float]:
    """The box (x0, y0, x1, y1) of a label of ``size`` (w, h) at ``offset`` from ``anchor``.

    The offset is to the box's nearest corner: a label to the right starts at the offset,
    a label to the left ends there (so a leader line stays short on either side).
    """
    (ax, ay), (dx, dy), (w, h) = anchor, offset, size
    x0 = ax + dx if dx >= 0 else ax + dx - w
    y0 = ay + dy if dy >= 0 else ay + dy - h
    if dx == 0:
        x0 = ax - w / 2
    if dy == 0:
        y0 = ay - h / 2
    return (x0, y0, x0 + w, y0 + h)


def place_labels(
    anchors: np.ndarray,
    sizes: np.ndarray,
    gap: float = 8.0,
    step: float = 6.0,
    rings: int = 12,
    bounds: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """Offsets (n, 2) from each anchor to its label, so that no two label boxes overlap.

    ``anchors`` (n, 2) and ``sizes`` (n, 2: width, height) are in one screen unit; labels
    are placed in their order, the first at ``(gap, gap)``. Each later label takes the first
    offset, ring by ring (``gap + k * step`` away, in eight directions), whose box misses the
    boxes placed before it; after ``rings`` rings without room it keeps its first place
    (a label is never sent far from its point). Every offset is at most
    ``gap + (rings - 1) * step`` from its anchor along each axis. With ``bounds``
    (x0, y0, x1, y1: the axes on screen) offsets whose box leaves them are skipped too, so
    a label at the edge of the map turns inwards instead of being cut.
    """
    anchors = np.asarray(anchors, dtype=float).reshape(-1, 2)
    sizes = np.asarray(sizes, dtype=float).reshape(-1, 2)
    offsets = np.zeros_like(anchors)
    placed: list[tuple[float, float, float, float]] = []
    for i, (anchor, size) in enumerate(zip(anchors, sizes, strict=True)):
        chosen = (gap, gap)
        for ring in range(rings):
            reach = gap + ring * step
            found = next(
                (
                    (sx * reach, sy * reach)
                    for sx, sy in _DIRECTIONS
                    if _fits(label_box(anchor, (sx * reach, sy * reach), size), placed, bounds)
                ),
                None,
            )
            if found is not None:
                chosen = found
                break
        offsets[i] = chosen
        placed.append(label_box(anchor, chosen, size))
    return offsets

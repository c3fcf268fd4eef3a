"""Requests other docks make of the Profile map, one channel per viewer.

``profile_map_requests_of(viewer)`` is the map's inbox: the Retrieval dock asks it to ring
a query's wells; the Similar dock asks it to mark its query, the query's targets and the
match (and the Retrieval dock listens to the same marks to highlight the query's rows).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from psygnal import Signal

WellKeys = list[tuple[str, str]]


@dataclass(frozen=True)
class MapMarks:
    """What the map marks and labels: a ranking's query, its target genes and the match.

    Each is a (label, (plate, well) keys) pair; the map draws the points of those wells
    with a marker per role and writes the label beside them.
    """

    query: tuple[str, WellKeys] | None = None
    targets: list[tuple[str, WellKeys]] = field(default_factory=list)
    match: tuple[str, WellKeys] | None = None
    genes: tuple[str, ...] = ()
    """The query's target genes (those of the ranking or not), by name."""


class ProfileMapRequests:
    """Requests other docks make of the Profile map (psygnal signals, no Qt)."""

    highlight_wells = Signal(object)
    """(plate, well) keys whose points to highlight (the Retrieval dock's query)."""
    mark = Signal(object)
    """A :class:`MapMarks`: the query, its targets and the match to mark and label."""


_REQUESTS: weakref.WeakKeyDictionary[Any, ProfileMapRequests] = weakref.WeakKeyDictionary()


def profile_map_requests_of(viewer: Any) -> ProfileMapRequests:
    """The Profile map's requests of a viewer (created on first use)."""
    if viewer not in _REQUESTS:
        _REQUESTS[viewer] = ProfileMapRequests()
    return _REQUESTS[viewer]

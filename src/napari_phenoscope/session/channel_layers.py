"""Which of a viewer's layers holds which Cell Painting channel, by the layer's name.

The Profile dock's form offers the five channel pickers pre-filled with these matches; no
Qt or napari here: a layer is anything with a ``name``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, TypeVar


class _HasName(Protocol):
    name: str


Named = TypeVar("Named", bound=_HasName)


def matching_layer(channel: str, layers: Sequence[Named]) -> Named | None:
    """The layer whose name names ``channel`` (``DNA``, ``Hoechst DNA``, ``mito_1``).

    An exact name first, then the channel as a word of the name (case ignored); None if
    no layer or several layers match.

    Parameters
    ----------
    channel
        A channel of ``constants.CHANNELS``.
    layers
        Anything with a ``name``: the viewer's Image layers.

    Examples
    --------
    >>> from types import SimpleNamespace as Layer
    >>> matching_layer("Mito", [Layer(name="Hoechst DNA"), Layer(name="mito_1")]).name
    'mito_1'
    """
    exact = [layer for layer in layers if layer.name.lower() == channel.lower()]
    if len(exact) == 1:
        return exact[0]
    word = re.compile(rf"(^|[^a-z]){channel.lower()}([^a-z]|$)")
    named = [layer for layer in layers if word.search(layer.name.lower())]
    return named[0] if len(named) == 1 else None

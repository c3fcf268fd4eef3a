"""Which layer holds which channel, by its name: headless, a layer is anything named."""

from __future__ import annotations

from types import SimpleNamespace

from napari_phenoscope.session.channel_layers import matching_layer


def layers(*names: str) -> list[SimpleNamespace]:
    return [SimpleNamespace(name=name) for name in names]


def test_channels_are_matched_by_name():
    found = layers("Hoechst DNA", "mito_1", "ER", "RNA")
    assert matching_layer("DNA", found).name == "Hoechst DNA"
    assert matching_layer("Mito", found).name == "mito_1"
    assert matching_layer("AGP", found) is None


def test_an_exact_name_wins_and_two_candidates_match_none():
    assert matching_layer("ER", layers("ER", "ER stain")).name == "ER"
    assert matching_layer("RNA", layers("RNA 1", "rna_2")) is None
    assert matching_layer("ER", layers("Mitotracker", "ERK")) is None  # a word, not a prefix

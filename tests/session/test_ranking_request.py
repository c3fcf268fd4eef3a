"""What the Similar perturbations dock computes, headless: query, ranking and gallery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_rank import FEATURES, synthetic_cells, synthetic_well_profiles

from napari_phenoscope.constants import MODALITY, PERT_INAME, PLATE, RANK, SITE, WELL
from napari_phenoscope.errors import ProfileTableError
from napari_phenoscope.session.ranking_request import (
    GALLERY_MATCHES,
    NO_CELL,
    perturbation_choices,
    perturbation_label,
    query_name,
    rank_request,
    ranking_summary_html,
)
from napari_phenoscope.session.state import PlateSession
from napari_phenoscope.session.tables import annotations_of
from napari_phenoscope.similarity.rank import (
    BEST_PLATE,
    BEST_WELL,
    PERTURBATION,
    perturbation_query,
    rank_perturbations,
    reference_profiles,
    well_query,
)


@pytest.fixture(scope="module")
def cells() -> pd.DataFrame:
    return synthetic_cells(cells_per_well=6)


def make_session(cells: pd.DataFrame, images: bool = True) -> PlateSession:
    fields = pd.DataFrame({PLATE: ["P-COMPOUND"], WELL: ["A01"], SITE: [1]})
    session = PlateSession(source=Path("."), fields=fields if images else fields.iloc[:0])
    session.cells = cells
    session.well_profiles["vit"] = synthetic_well_profiles(cells)
    return session


def ask(session, mode, well="", perturbation="", selected=(), cells=None, cache=None):
    cache = {} if cache is None else cache
    return rank_request(
        session, mode, well, perturbation, "vit", list(selected), cells, cache
    ), cache


def key_of(cell: pd.Series) -> tuple:
    return (cell[PLATE], cell[WELL], int(cell[SITE]), int(cell["label"]))


def test_a_perturbation_query_ranks_without_its_own_wells(cells):
    session = make_session(cells)
    (query, ranking, entries), cache = ask(
        session, "perturbation", perturbation="BI-2536 · compound"
    )
    profiles = session.well_profiles["vit"]
    annotations = annotations_of(session, profiles)
    expected_query = perturbation_query(profiles, "BI-2536", FEATURES, "compound", annotations)
    np.testing.assert_allclose(query.vector, expected_query.vector)
    reference = reference_profiles(profiles, FEATURES, query.exclude_wells, annotations)
    pd.testing.assert_frame_equal(ranking, rank_perturbations(query, reference))
    assert ranking.iloc[0][PERTURBATION] == "PLK1"  # BI-2536's own wells are left out
    assert ("reference", "vit") not in cache  # the query's wells are left out: not shared


def test_the_gallery_shows_the_query_well_then_the_top_matches(cells):
    session = make_session(cells)
    (query, ranking, entries), _ = ask(
        session, "perturbation", perturbation="BI-2536 · compound", cells=cells
    )
    caption, rows, several = entries[0]
    assert caption == "query" and several
    assert {(p, w) for p, w in cells.iloc[rows][[PLATE, WELL]].itertuples(index=False)} == {
        tuple(query.exclude_wells[0])
    }
    matches = ranking[~ranking["is query"]].head(GALLERY_MATCHES)
    assert [c for c, _, _ in entries[1:]] == [
        f"#{m[RANK]} {m[PERTURBATION]}" for _, m in matches.iterrows()
    ]
    for (_, rows, _), (_, match) in zip(entries[1:], matches.iterrows(), strict=True):
        wells = cells.iloc[rows][[PLATE, WELL]].drop_duplicates().to_numpy().tolist()
        assert wells == [[match[BEST_PLATE], match[BEST_WELL]]]


def test_a_session_without_images_has_no_gallery(cells):
    session = make_session(cells, images=False)
    (_, ranking, entries), _ = ask(
        session, "perturbation", perturbation="PFI-1 · compound", cells=cells
    )
    assert entries == [] and len(ranking)


def test_a_well_query_finds_its_replicates(cells):
    session = make_session(cells)
    first = session.well_profiles["vit"].query(f"{PERT_INAME} == 'PFI-1'").iloc[0]
    (query, ranking, _), _ = ask(session, "well", well=f"{first[PLATE]} {first[WELL]}")
    expected = well_query(session.well_profiles["vit"], first[PLATE], first[WELL], FEATURES)
    np.testing.assert_allclose(query.vector, expected.vector)
    assert ranking.iloc[0][PERTURBATION] == "PFI-1"


def test_a_cell_query_uses_the_selected_cell_and_shares_the_reference(cells):
    session = make_session(cells)
    cell = cells[cells[PERT_INAME] == "BI-2536"].iloc[0]
    (query, ranking, entries), cache = ask(
        session, "selected cell", selected=[key_of(cell)], cells=cells
    )
    assert query.description.startswith(f"cell {int(cell['label'])} of ")
    assert set(ranking[PERTURBATION].iloc[:2]) == {"BI-2536", "PLK1"}
    assert entries[0][0] == "query" and not entries[0][2]
    assert cells.iloc[entries[0][1]].index.tolist() == [cell.name]
    reference = cache[("reference", "vit")]
    (_, again, _), _ = ask(
        session, "selected cell", selected=[key_of(cell)], cells=cells, cache=cache
    )
    assert cache[("reference", "vit")] is reference  # computed once per feature set
    pd.testing.assert_frame_equal(again, ranking)


@pytest.mark.parametrize(
    ("selected", "with_cells", "message"),
    [
        ((), True, NO_CELL),
        ((("P-COMPOUND", "A01", 1, 1),), False, "No single-cell profiles yet"),
        ((("P-COMPOUND", "A01", 1, 9999),), True, "cell 9999 of P-COMPOUND A01 site 1 is not"),
    ],
)
def test_a_cell_query_that_cannot_be_made_says_why(cells, selected, with_cells, message):
    session = make_session(cells)
    with pytest.raises(ProfileTableError, match=message):
        ask(session, "selected cell", selected=selected, cells=cells if with_cells else None)


def test_perturbation_choices_name_the_modality_only_when_there_is_one():
    table = pd.DataFrame(
        {
            PLATE: ["P"] * 3,
            WELL: ["A01", "A02", "A03"],
            PERT_INAME: ["x", "y", "x"],
            MODALITY: ["compound", None, "compound"],
        }
    )
    assert perturbation_choices(table) == ["x · compound", "y"]
    assert perturbation_choices(table.drop(columns=[MODALITY])) == ["x", "y"]


def test_labels_read_as_a_biologist_names_them():
    assert (
        perturbation_label(pd.Series({PERTURBATION: "PLK1", MODALITY: "crispr"})) == "PLK1 (crispr)"
    )
    assert perturbation_label(pd.Series({PERTURBATION: "PLK1", MODALITY: None})) == "PLK1"
    assert query_name("BI-2536 (4 wells)") == "BI-2536"
    assert query_name("cell 3 of P1 A01 site 1 (x)") == "cell 3 of P1 A01 site 1 (x)"


def test_the_summary_says_where_the_target_genes_landed(cells):
    session = make_session(cells)
    (query, ranking, _), _ = ask(session, "perturbation", perturbation="BI-2536 · compound")
    html = ranking_summary_html(query, ranking, "#ffd666", "#fff0c4")
    lines = html.split("<br>")
    assert lines[0] == f"<b>{query.description}</b>"
    assert lines[1] == "targets: " + ", ".join(query.targets)
    genes = next(line for line in lines if line.startswith("target genes rank: "))
    plk1 = ranking[ranking[PERTURBATION] == "PLK1"].iloc[0]
    assert (
        f"<span style='background:#ffd666;color:black'>PLK1 (crispr) #{plk1[RANK]}</span>" in genes
    )
    assert genes.endswith(f" of {len(ranking)}")
    assert "#fff0c4" not in genes  # related perturbations are paler, on their own lines

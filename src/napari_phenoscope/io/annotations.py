"""Which columns of a profile table name its perturbations, their targets and their MoA.

JUMP tables spell them ``Metadata_pert_iname`` / ``Metadata_gene`` /
``Metadata_target_list``, LINCS tables ``Metadata_pert_iname`` / ``Metadata_target`` /
``Metadata_moa``, and anyone's table may use its own: :func:`find_annotations` picks the
columns a table has (the user's choice first), so that the ranking, its highlights and the
map's colours show the table's own words, and a column the table lacks is never shown empty.

No Qt and no napari.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CONTROL_TYPE,
    GENE,
    JCP2022,
    MODALITY,
    PERT_INAME,
    TARGET_LIST,
)
from napari_phenoscope.errors import ProfileTableError

#: Columns that tell two perturbations of one name apart (two PLK1 guides), best first.
IDENTIFIER_COLUMNS = (BROAD_SAMPLE, JCP2022, "Metadata_broad_id", "Metadata_pert_id")
#: Columns listing a perturbation's target genes (``|``- or ``,``-separated), best first.
TARGET_COLUMNS = (TARGET_LIST, "Metadata_target", "Metadata_targets", GENE)
#: Columns naming a mechanism of action, best first.
MOA_COLUMNS = ("Metadata_moa", "Metadata_MoA", "Metadata_MOA", "Metadata_moa_list")
#: Columns that colour a map best, most telling first (after the MoA and the target).
TELLING_COLUMNS = (MODALITY, PERT_INAME, CONTROL_TYPE)

_SEPARATORS = re.compile(r"[|,;]")
_MISSING = ("", "nan", "none", "<na>")


@dataclass(frozen=True)
class Annotations:
    """The annotation columns of one table (None or empty: the table has none).

    Attributes
    ----------
    identifier
        Tells perturbations of one name apart (a guide's or an ORF's Broad sample id).
    targets
        Columns listing target genes (a compound's targets, a CRISPR / ORF gene).
    moa
        The mechanism of action.
    """

    identifier: str | None = None
    targets: tuple[str, ...] = ()
    moa: str | None = None

    def colour_column(self, columns: Iterable[str]) -> str | None:
        """The most telling column to colour a map by: MoA, modality, target, name."""
        present = set(columns)
        for column in (self.moa, MODALITY, *self.targets, *TELLING_COLUMNS):
            if column and column in present:
                return column
        return None


def _chosen(table: pd.DataFrame, column: str | None, what: str) -> str | None:
    if column is not None and column not in table.columns:
        raise ProfileTableError(f"the profile table has no {what} column {column!r}")
    return column


def _first_filled(table: pd.DataFrame, candidates: Iterable[str]) -> list[str]:
    """The candidate columns present with at least one value."""
    # distinct values first: a million-cell table has a few hundred perturbations
    return [
        c
        for c in candidates
        if c in table.columns
        and any(str(v).strip().lower() not in _MISSING for v in pd.unique(table[c].to_numpy()))
    ]


def find_annotations(
    table: pd.DataFrame,
    target: str | None = None,
    moa: str | None = None,
    identifier: str | None = None,
) -> Annotations:
    """The annotation columns of ``table``: the ones given, else the first known ones it fills.

    Parameters
    ----------
    table
        A profile table (well-level or single-cell).
    target, moa, identifier
        Columns the user chose (``phenoscope view --target-column`` ...).

    Raises
    ------
    ProfileTableError
        If a chosen column is not in the table (named in the message).

    Examples
    --------
    >>> import pandas as pd
    >>> lincs = pd.DataFrame({"Metadata_moa": ["PLK inhibitor"], "Metadata_target": ["PLK1"]})
    >>> find_annotations(lincs)
    Annotations(identifier=None, targets=('Metadata_target',), moa='Metadata_moa')
    """
    targets = (
        (_chosen(table, target, "target"),)
        if target
        else tuple(_first_filled(table, TARGET_COLUMNS))
    )
    moas = _first_filled(table, MOA_COLUMNS)
    identifiers = _first_filled(table, IDENTIFIER_COLUMNS)
    return Annotations(
        identifier=_chosen(table, identifier, "identifier")
        or (identifiers[0] if identifiers else None),
        targets=targets,
        moa=_chosen(table, moa, "MoA") or (moas[0] if moas else None),
    )


def split_values(value: object) -> tuple[str, ...]:
    """The items of a ``|``-, ``,``- or ``;``-separated annotation (none for a missing one)."""
    if not isinstance(value, str) or value.strip().lower() in _MISSING:
        return ()
    items = (item.strip() for item in _SEPARATORS.split(value))
    return tuple(dict.fromkeys(item for item in items if item.lower() not in _MISSING))


def row_values(row: pd.Series | dict, columns: Iterable[str]) -> tuple[str, ...]:
    """The items of ``columns`` in one row, in order, without repeats."""
    values: list[str] = []
    for column in columns:
        values.extend(split_values(row.get(column, "")))
    return tuple(dict.fromkeys(values))

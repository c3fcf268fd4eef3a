"""Weak supervision from plate maps: teach the encoder to tell each cell's treatment apart.

Moshkov et al. (2024, Nature Communications) trained a network to classify every cell's
treatment from the plate map alone; its features beat CellProfiler's at retrieving unseen
compounds. Every user has a plate map for every plate they image, so this is how they adapt
the bundled encoder to their own cells: ``phenoscope train --method weak --label-column
Metadata_broad_sample``.

Pieces (the loop itself is ``training.loops.train``):

- ``cell_labels``: each cached crop's label, from its well's plate-map row;
- ``balanced_batch``: a batch drawn so every label is equally likely, and within a label every
  plate (controls of every plate alike), so the abundant negative-control wells and the
  plate with most cells do not dominate;
- ``WeakClassifier``: the encoder, pooled as at inference, then a linear head; the embeddings
  are the encoder's pooled output (the layer before the classifier, as in Moshkov et al.).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from timm.models.vision_transformer import VisionTransformer

from napari_phenoscope.constants import PLATE, WELL
from napari_phenoscope.errors import PlateFormatError
from napari_phenoscope.io import join_well_metadata, read_well_metadata
from napari_phenoscope.io.platemap import find_project_root
from napari_phenoscope.models.embed import Pooling, pool_tokens

#: The label of wells whose label column is empty (negative controls: DMSO, no guide).
CONTROL_LABEL = "<control>"


@dataclass(frozen=True)
class CellLabels:
    """Integer label per cached crop and what the integers mean.

    Attributes
    ----------
    labels
        (N,) int64, index into ``classes``.
    plates
        (N,) int64, index of the cell's plate (for balanced sampling).
    classes
        Label names (``CONTROL_LABEL`` for empty ones).
    """

    labels: np.ndarray
    plates: np.ndarray
    classes: tuple[str, ...]


def well_labels(plate_dirs: Sequence[str | Path], label_column: str) -> pd.DataFrame:
    """Every plate-map well's label: ``Metadata_Plate``, ``Metadata_Well`` and ``label``.

    Read before any cell is cropped, so a wrong column fails at once.

    Parameters
    ----------
    plate_dirs
        The training plate or project folders (their ``metadata/platemaps`` are read).
    label_column
        A column of the well metadata (e.g. ``Metadata_broad_sample``); empty values (negative
        controls) become ``CONTROL_LABEL``.

    Raises
    ------
    PlateFormatError
        If a folder has no plate maps, or the column is not in them (naming it and the columns
        there are).
    """
    tables = []
    for root in dict.fromkeys(find_project_root(d) or Path(d) for d in plate_dirs):
        tables.append(read_well_metadata(root))
    metadata = pd.concat(tables, ignore_index=True).drop_duplicates([PLATE, WELL])
    if label_column not in metadata.columns:
        known = ", ".join(c for c in metadata.columns if c.startswith("Metadata_"))
        raise PlateFormatError(
            f"label column {label_column!r} is not in the plate maps of "
            f"{', '.join(map(str, plate_dirs))} (they have: {known})"
        )
    names = metadata[label_column].fillna("").astype(str).replace("", CONTROL_LABEL)
    return pd.DataFrame({PLATE: metadata[PLATE], WELL: metadata[WELL], "label": names})


def cell_labels(wells: pd.DataFrame, cells: pd.DataFrame, label_column: str) -> CellLabels:
    """Each cached crop's label, from its well's row of ``well_labels``.

    Parameters
    ----------
    wells
        ``well_labels`` output.
    cells
        One row per cached crop with ``Metadata_Plate`` and ``Metadata_Well``.
    label_column
        The column the labels came from (named in errors).

    Raises
    ------
    PlateFormatError
        If a cell's well is not in the plate maps, or fewer than two labels have cells.
    """
    joined = join_well_metadata(cells[[PLATE, WELL]].reset_index(drop=True), wells)
    codes, classes = pd.factorize(joined["label"], sort=True)
    plate_codes, _ = pd.factorize(joined[PLATE], sort=True)
    if len(classes) < 2:
        raise PlateFormatError(
            f"label column {label_column!r} has {len(classes)} distinct value(s) in the training "
            "wells: weak supervision needs at least two treatments"
        )
    return CellLabels(
        labels=codes.astype(np.int64),
        plates=plate_codes.astype(np.int64),
        classes=tuple(str(c) for c in classes),
    )


def balanced_batch(
    labels: CellLabels, batch_size: int, generator: np.random.Generator
) -> np.ndarray:
    """Indices of a batch where each label, then each plate within it, is equally likely.

    Examples
    --------
    >>> labels = CellLabels(np.array([0] * 98 + [1, 1]), np.zeros(100, int), ("a", "b"))
    >>> batch = balanced_batch(labels, 1000, np.random.default_rng(0))
    >>> 0.4 < (labels.labels[batch] == 1).mean() < 0.6
    True
    """
    groups = (
        pd.Series(np.arange(len(labels.labels))).groupby([labels.labels, labels.plates]).indices
    )
    by_label: dict[int, list[np.ndarray]] = {}
    for (label, _plate), members in sorted(groups.items()):
        by_label.setdefault(int(label), []).append(np.asarray(members))
    label_ids = np.array(sorted(by_label))
    chosen_labels = generator.choice(label_ids, size=batch_size)
    batch = np.empty(batch_size, dtype=np.int64)
    for position, label in enumerate(chosen_labels):
        plates = by_label[int(label)]
        members = plates[generator.integers(len(plates))]
        batch[position] = members[generator.integers(len(members))]
    return batch


class WeakClassifier(torch.nn.Module):
    """The encoder, pooled as at inference, and a linear head over the treatments.

    Parameters
    ----------
    encoder
        The ViT to fine-tune.
    n_classes
        Number of treatment labels.
    pooling
        How the tokens are pooled (that of the weights' preprocessing).
    label_smoothing
        Cross-entropy label smoothing (many treatments look alike: no hard targets).
    """

    def __init__(
        self,
        encoder: VisionTransformer,
        n_classes: int,
        pooling: Pooling = "mean",
        label_smoothing: float = 0.1,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        width = int(encoder.embed_dim) * (2 if pooling == "cls+mean" else 1)
        self.head = torch.nn.Linear(width, n_classes)
        self.label_smoothing = label_smoothing

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, D) pooled embeddings, exactly as ``models.embed_crops`` computes them."""
        tokens = self.encoder.forward_features(images)
        return pool_tokens(tokens, self.pooling, int(self.encoder.num_prefix_tokens))

    def forward(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Cross-entropy loss of the batch and its accuracy."""
        logits = self.head(self.embed(images)).float()
        loss = torch.nn.functional.cross_entropy(
            logits, targets, label_smoothing=self.label_smoothing
        )
        accuracy = float((logits.argmax(dim=1) == targets).float().mean())
        return loss, accuracy

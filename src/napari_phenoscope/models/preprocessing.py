"""The preprocessing an encoder was trained with, carried inside its weights file.

As timm's pretrained configs carry mean, std and input size, a phenoscope weights file
carries how its crops were cut and scaled: the intensity normalisation (per field or per
plate, and its percentiles), the crop size, the physical pixel size the encoder expects and
how tokens are pooled into an embedding. Inference reads it back from the file, so nothing
at inference can silently differ from training.

The metadata key is ``preprocessing`` (a JSON object). A phenoscope weights file without it,
or with a value that is not understood, is refused with a one-line error naming the file
and the key.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from napari_phenoscope.errors import ModelWeightsError

#: Metadata key of the preprocessing in a weights file.
PREPROCESSING_KEY = "preprocessing"
#: Pixel size (um) the demo renderer stands for: demo nuclei are 10-20 px and cells 25-45 px,
#: about half the size in pixels of real 20x cells (0.6-0.7 um/px), so ~1.3 um/px.
DEMO_PIXEL_SIZE_UM = 1.3

Scope = Literal["field", "plate"]
Pooling = Literal["mean", "cls", "cls+mean"]
SCOPES: tuple[str, ...] = ("field", "plate")
POOLINGS: tuple[str, ...] = ("mean", "cls", "cls+mean")


@dataclass(frozen=True)
class Preprocessing:
    """How crops are made and embeddings pooled for one encoder.

    Attributes
    ----------
    normalization
        ``"field"``: each channel scaled by the field's own percentiles; ``"plate"``: by the
        plate's (median over a sample of its fields), which keeps well-to-well intensity
        differences, i.e. phenotypes such as a brighter Mito stain in every cell of a well.
    percentiles
        (low, high) percentiles mapped to 0 and 1.
    crop_size
        Side of the square crops in pixels (the encoder's input size).
    pixel_size_um
        The physical pixel size the encoder was trained at; crops of images with another
        pixel size are resampled to it.
    pooling
        Token pooling of the embedding: mean of patch tokens, the CLS token, or both
        concatenated.
    """

    normalization: Scope = "field"
    percentiles: tuple[float, float] = (1.0, 99.8)
    crop_size: int = 64
    pixel_size_um: float = DEMO_PIXEL_SIZE_UM
    pooling: Pooling = "mean"

    def __post_init__(self) -> None:
        if self.normalization not in SCOPES:
            raise ValueError(f"normalization must be one of {SCOPES}, not {self.normalization!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {self.pooling!r}")
        low, high = self.percentiles
        if not 0.0 <= low < high <= 100.0:
            raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100: {self.percentiles}")
        if self.crop_size <= 0 or self.pixel_size_um <= 0:
            raise ValueError("crop_size and pixel_size_um must be positive")

    def to_json(self) -> str:
        """The metadata value stored under ``preprocessing``."""
        return json.dumps(asdict(self), sort_keys=True)

    def with_updates(self, **changes: Any) -> Preprocessing:
        """A copy with some fields changed (validated)."""
        return replace(self, **changes)

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any], path: str | Path) -> Preprocessing:
        """Read the preprocessing of a weights file from its (JSON-decoded) metadata.

        Raises
        ------
        ModelWeightsError
            If the key is missing, not an object, or holds an unknown field or value; the
            message names the file and the key.
        """
        values = metadata.get(PREPROCESSING_KEY)
        if values is None:
            raise ModelWeightsError(
                f"weights file {path} lacks its '{PREPROCESSING_KEY}' metadata "
                "(how crops were normalised at training); retrain or re-save it"
            )
        if isinstance(values, str):
            try:
                values = json.loads(values)
            except ValueError:
                values = None
        if not isinstance(values, dict):
            raise ModelWeightsError(
                f"weights file {path}: metadata '{PREPROCESSING_KEY}' is not a JSON object"
            )
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ModelWeightsError(
                f"weights file {path}: unknown key '{PREPROCESSING_KEY}.{unknown[0]}'"
            )
        try:
            if "percentiles" in values:
                values = {**values, "percentiles": tuple(float(v) for v in values["percentiles"])}
            return cls(**values)
        except (TypeError, ValueError) as error:
            raise ModelWeightsError(
                f"weights file {path}: metadata '{PREPROCESSING_KEY}' is invalid: {error}"
            ) from error

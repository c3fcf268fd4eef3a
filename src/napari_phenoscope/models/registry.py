"""The registry of bundled weights: a name -> a weights file inside the package.

As timm's ``_registry`` / ``_pretrained``: names (``"vit-tiny-p8-64"``, ``"bundled"`` for the
default) resolve to files shipped in ``napari_phenoscope/models/weights``; what a file holds
and how it is read is ``weights.py``'s business.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from napari_phenoscope.errors import ModelWeightsError

#: File name of the default bundled weights inside ``napari_phenoscope/models/weights``.
BUNDLED_WEIGHTS = "mae_vit_tiny_p8_64.safetensors"
#: The bundled weights by name (as timm names its pretrained configs); "bundled" is the default.
BUNDLED_MODELS: dict[str, str] = {"vit-tiny-p8-64": BUNDLED_WEIGHTS}
DEFAULT_MODEL = "vit-tiny-p8-64"


def bundled_weights_path(name: str = DEFAULT_MODEL) -> Path:
    """Path of bundled weights by registry name (raises ``ModelWeightsError`` if absent)."""
    if name == "bundled":
        name = DEFAULT_MODEL
    if name not in BUNDLED_MODELS:
        known = ", ".join(sorted(BUNDLED_MODELS))
        raise ModelWeightsError(f"no bundled weights named {name!r}; bundled: {known}")
    folder = resources.files("napari_phenoscope.models") / "weights"
    path = Path(str(folder / BUNDLED_MODELS[name]))
    if not path.is_file():
        raise ModelWeightsError(f"bundled weights {path} are missing; reinstall the package")
    return path


def resolve_weights(choice: str | Path | None = None) -> Path:
    """A weights file from a path, a bundled name (``BUNDLED_MODELS``), ``"bundled"`` or None.

    Examples
    --------
    >>> resolve_weights().name == BUNDLED_WEIGHTS
    True
    """
    if choice is None or str(choice) == "bundled" or str(choice) in BUNDLED_MODELS:
        return bundled_weights_path("bundled" if choice is None else str(choice))
    return Path(choice)

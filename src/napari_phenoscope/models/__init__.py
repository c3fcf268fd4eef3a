"""The self-supervised ViT: encoder factory, MAE and DINO, weights, embeddings, inspection.

``load_encoder()`` gives the bundled MAE-pretrained encoder (offline, SHA-256 checked);
``embed_crops`` turns ``crops.extract_crops`` output into per-cell embeddings;
``load_mae`` + ``field_inspection.inspect_field`` give reconstructions and attention maps in
image coordinates.
"""

from napari_phenoscope.models.embed import default_pool, embed_crops, resolve_device
from napari_phenoscope.models.mae import MASK_RATIO, DecoderConfig, MaskedAutoencoder
from napari_phenoscope.models.registry import (
    BUNDLED_MODELS,
    BUNDLED_WEIGHTS,
    DEFAULT_MODEL,
    bundled_weights_path,
    resolve_weights,
)
from napari_phenoscope.models.vit import DEFAULT_CONFIG, EncoderConfig, create_encoder
from napari_phenoscope.models.weights import load_encoder, load_mae, read_weights, save_weights

__all__ = [
    "BUNDLED_MODELS",
    "BUNDLED_WEIGHTS",
    "DEFAULT_MODEL",
    "DEFAULT_CONFIG",
    "MASK_RATIO",
    "DecoderConfig",
    "EncoderConfig",
    "MaskedAutoencoder",
    "bundled_weights_path",
    "resolve_weights",
    "create_encoder",
    "default_pool",
    "embed_crops",
    "load_encoder",
    "load_mae",
    "read_weights",
    "resolve_device",
    "save_weights",
]

"""Self-supervised training of the ViT encoder on a plate's cell crops (MAE or DINO).

``loops`` caches the crops, runs the MAE or DINO loop with checkpoints and a loss log, and
writes safetensors weights that ``models.load_encoder`` reads.
"""

from napari_phenoscope.training.loops import TrainConfig, TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]

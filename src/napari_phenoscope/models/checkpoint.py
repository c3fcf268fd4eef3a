"""Training checkpoints: model and optimiser state as safetensors, the rest as JSON.

``torch.save`` would pickle the optimiser state; here every tensor (weights, Adam moments,
step counters, a DINO centre) goes into a safetensors file and everything else (step,
configuration, loss history, optimiser hyper-parameters) into its JSON metadata, so a
checkpoint is loaded without unpickling anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from napari_phenoscope.errors import ModelWeightsError


def save_checkpoint(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    """Write model and optimiser tensors plus a JSON ``state`` to safetensors, atomically."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optim_state = optimizer.state_dict()
    scalars: dict[str, Any] = {}
    for index, values in optim_state["state"].items():
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"optim.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{name}"] = value
    metadata = {
        "state": json.dumps(state),
        "param_groups": json.dumps(optim_state["param_groups"]),
        "optim_scalars": json.dumps(scalars),
    }
    temporary = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(temporary), metadata=metadata)
    temporary.replace(path)


def load_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    method: str | None = None,
) -> dict[str, Any]:
    """Restore ``model`` and ``optimizer`` from a ``save_checkpoint`` file; return its state.

    Raises
    ------
    ModelWeightsError
        If the file is missing, unreadable, written by another ``method`` or for another
        model.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelWeightsError(f"checkpoint {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        state = json.loads(metadata["state"])
        param_groups = json.loads(metadata["param_groups"])
        scalars = json.loads(metadata["optim_scalars"])
    except (SafetensorError, OSError, KeyError, ValueError) as error:
        raise ModelWeightsError(f"checkpoint {path} is not readable: {error}") from error
    written_by = state.get("config", {}).get("method")
    if method is not None and written_by != method:
        raise ModelWeightsError(f"checkpoint {path} is from a {written_by} run, not {method}")
    model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    optim_state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            optim_state.setdefault(int(index), {})[name] = value
    for key, value in scalars.items():
        index, name = key.split(".", 1)
        optim_state.setdefault(int(index), {})[name] = value
    try:
        model.load_state_dict(model_state, strict=True)
        optimizer.load_state_dict({"state": optim_state, "param_groups": param_groups})
    except (RuntimeError, ValueError, KeyError) as error:
        detail = str(error).strip().splitlines()[0]
        raise ModelWeightsError(f"checkpoint {path} does not fit this model: {detail}") from error
    return state

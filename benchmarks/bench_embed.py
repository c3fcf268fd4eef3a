"""Embedding throughput on this CPU, and achieved vs peak FLOP/s, measured in one run.

Run: ``.venv/bin/python benchmarks/bench_embed.py [--cells 2048] [--threads N]``

Peak is the FLOP/s of a large float32 ``torch.matmul`` timed here, now (same threads, same
load); achieved is the encoder's FLOPs per cell (counted by ``torch.utils.flop_counter``
on one batch) times cells per second. The ratio says how much of the machine the small
ViT (64 tokens of width 192) can use.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from napari_phenoscope.errors import ModelWeightsError
from napari_phenoscope.models import DEFAULT_CONFIG, create_encoder, embed_crops, load_encoder


def peak_flops(size: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a (size x size) @ (size x size) float32 matmul, best of ``repeats``."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def flops_per_cell(encoder: torch.nn.Module, size: int, batch: int = 8) -> float:
    """FLOPs of one forward pass per crop (matmuls, convolution, attention)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        encoder.forward_features(torch.zeros(batch, 5, size, size))
    return counter.get_total_flops() / batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch-sizes", default="64,256")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        encoder, source = load_encoder(), "bundled weights"
    except ModelWeightsError:
        encoder, source = create_encoder(DEFAULT_CONFIG).eval(), "random init (same FLOPs)"
    size = int(encoder.patch_embed.img_size[0])
    crops = np.random.default_rng(0).random((args.cells, 5, size, size), dtype=np.float32)
    per_cell = flops_per_cell(encoder, size)
    print(f"encoder: {source}; crops {size} px; {per_cell / 1e6:.1f} MFLOP per cell")
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    peak = peak_flops()
    print(f"peak (float32 matmul 2048^3): {peak / 1e9:.1f} GFLOP/s")
    embed_crops(encoder, crops[:64], batch_size=64, device="cpu")  # warm-up
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        start = time.perf_counter()
        embed_crops(encoder, crops, batch_size=batch_size, device="cpu")
        seconds = time.perf_counter() - start
        rate = args.cells / seconds
        achieved = rate * per_cell
        print(
            f"batch {batch_size:4d}: {rate:8.1f} cells/s, {achieved / 1e9:6.1f} GFLOP/s, "
            f"{achieved / peak:6.1%} of peak"
        )
    peak_after = peak_flops()
    print(f"peak again after the run: {peak_after / 1e9:.1f} GFLOP/s (load drift check)")


if __name__ == "__main__":
    main()

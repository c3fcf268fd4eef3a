"""DINO self-distillation (Caron et al. 2021) for the five-channel ViT encoder.

A student sees two global and a few local crops of each cell; a teacher (an exponential
moving average of the student) sees only the global ones; the student learns to match the
teacher's centred, sharpened distribution over ``out_dim`` prototypes. Views are made on
the batch with one ``grid_sample`` per view (random resized crop, flips), followed by a
per-channel intensity jitter that mimics plate-to-plate gain differences.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer
from torch import nn


@dataclass(frozen=True)
class DinoConfig:
    """DINO hyper-parameters (scaled down from the paper for small data and models)."""

    out_dim: int = 1024
    hidden_dim: int = 512
    bottleneck_dim: int = 128
    n_local_crops: int = 4
    global_scale: tuple[float, float] = (0.5, 1.0)
    local_scale: tuple[float, float] = (0.15, 0.5)
    student_temp: float = 0.1
    teacher_temp: float = 0.04
    center_momentum: float = 0.9
    ema_start: float = 0.996
    intensity_jitter: float = 0.2


class DinoHead(nn.Module):
    """MLP -> L2-normalised bottleneck -> prototypes with unit-norm weights."""

    def __init__(self, in_dim: int, config: DinoConfig = DinoConfig()) -> None:  # noqa: B008
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, config.hidden_dim),
            nn.GELU(),
            nn.Linear(config.hidden_dim, config.hidden_dim),
            nn.GELU(),
            nn.Linear(config.hidden_dim, config.bottleneck_dim),
        )
        self.prototypes = nn.Parameter(torch.randn(config.out_dim, config.bottleneck_dim) * 0.02)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, out_dim) logits."""
        bottleneck = F.normalize(self.mlp(features), dim=-1)
        return F.linear(bottleneck, F.normalize(self.prototypes, dim=-1))


def random_views(
    images: torch.Tensor,
    n_views: int,
    size: int,
    scale: tuple[float, float],
    generator: torch.Generator,
    jitter: float = 0.0,
) -> list[torch.Tensor]:
    """Random resized crops (with flips) of a (B, C, H, W) batch, each (B, C, size, size).

    Each view picks per sample an area fraction in ``scale`` (square crops), a random
    position inside the image, a horizontal and a vertical flip, and multiplies each channel
    by ``exp(jitter * N(0, 1))``. All randomness comes from ``generator``.
    """
    batch, channels = images.shape[:2]
    views = []
    for _ in range(n_views):
        area = torch.empty(batch).uniform_(scale[0], scale[1], generator=generator)
        side = area.sqrt()  # fraction of the image side
        centre = (torch.rand(batch, 2, generator=generator) * 2 - 1) * (1 - side[:, None])
        flips = torch.where(torch.rand(batch, 2, generator=generator) < 0.5, -1.0, 1.0)
        theta = torch.zeros(batch, 2, 3)
        theta[:, 0, 0] = side * flips[:, 0]
        theta[:, 1, 1] = side * flips[:, 1]
        theta[:, :, 2] = centre
        grid = F.affine_grid(theta, [batch, channels, size, size], align_corners=False)
        view = F.grid_sample(images, grid.to(images.device), align_corners=False)
        if jitter > 0:
            gains = torch.exp(jitter * torch.randn(batch, channels, 1, 1, generator=generator))
            view = view * gains.to(images.device)
        views.append(view)
    return views


class Dino(nn.Module):
    """Student and EMA teacher (encoder + head each) with the DINO loss and centring."""

    def __init__(self, encoder: VisionTransformer, config: DinoConfig = DinoConfig()) -> None:  # noqa: B008
        super().__init__()
        self.config = config
        self.student = encoder
        self.student_head = DinoHead(encoder.embed_dim, config)
        self.teacher = copy.deepcopy(encoder)
        self.teacher_head = copy.deepcopy(self.student_head)
        for parameter in [*self.teacher.parameters(), *self.teacher_head.parameters()]:
            parameter.requires_grad_(False)
        self.register_buffer("center", torch.zeros(1, config.out_dim))
        patch = int(encoder.patch_embed.patch_size[0])
        self.global_size = int(encoder.patch_embed.img_size[0])
        self.local_size = max(patch, (self.global_size // 2) // patch * patch)

    def student_parameters(self) -> list[nn.Parameter]:
        """Parameters the optimiser updates."""
        return [*self.student.parameters(), *self.student_head.parameters()]

    def forward(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """DINO loss of a batch of (B, C, S, S) crops (updates the centre in training)."""
        config = self.config
        global_views = random_views(
            images, 2, self.global_size, config.global_scale, generator, config.intensity_jitter
        )
        local_views = random_views(
            images,
            config.n_local_crops,
            self.local_size,
            config.local_scale,
            generator,
            config.intensity_jitter,
        )
        with torch.no_grad():
            teacher_logits = self.teacher_head(self.teacher(torch.cat(global_views)))
            targets = F.softmax((teacher_logits - self.center) / config.teacher_temp, dim=-1)
            targets = targets.chunk(2)
        student_logits = [self.student_head(self.student(torch.cat(global_views)))]
        if local_views:
            student_logits.append(self.student_head(self.student(torch.cat(local_views))))
        log_probs = F.log_softmax(torch.cat(student_logits).float() / config.student_temp, dim=-1)
        log_probs = log_probs.chunk(2 + len(local_views))
        total, terms = 0.0, 0
        for teacher_index, target in enumerate(targets):
            for view_index, log_prob in enumerate(log_probs):
                if view_index == teacher_index:
                    continue  # the same view: nothing to distil
                total = total + (-target.float() * log_prob).sum(dim=-1).mean()
                terms += 1
        if self.training:
            with torch.no_grad():
                batch_center = teacher_logits.float().mean(dim=0, keepdim=True)
                self.center.mul_(config.center_momentum).add_(
                    batch_center, alpha=1 - config.center_momentum
                )
        return total / terms

    @torch.no_grad()
    def update_teacher(self, progress: float) -> None:
        """EMA step; the momentum rises from ``ema_start`` to 1 on a cosine over training."""
        momentum = 1 - (1 - self.config.ema_start) * (math.cos(math.pi * progress) + 1) / 2
        pairs = zip(
            [*self.student.parameters(), *self.student_head.parameters()],
            [*self.teacher.parameters(), *self.teacher_head.parameters()],
            strict=True,
        )
        for student, teacher in pairs:
            teacher.mul_(momentum).add_(student.detach(), alpha=1 - momentum)

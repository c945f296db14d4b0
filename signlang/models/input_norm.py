"""Per-dimension input standardisation with statistics of the training set, saved with the model.

Raw keypoints live in [0, 1] and a sign is a few hundredths of movement; features have arbitrary
scales. Standardising each input dimension (fitted once on the training clips, before the first
step) lets the first layer see unit-scale inputs. The statistics are buffers, so checkpoints,
evaluation and prediction use exactly the ones training used.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from torch import nn


class InputNorm(nn.Module):
    """``(x - mean) / std`` per input dimension; with ``zero_is_missing``, exact zeros (undetected
    keypoints) are left out of the statistics and stay 0 after normalisation."""

    def __init__(self, dim: int, zero_is_missing: bool = False, eps: float = 1e-3) -> None:
        super().__init__()
        self.zero_is_missing = zero_is_missing
        self.eps = eps
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.register_buffer("fitted", torch.tensor(False))

    @torch.no_grad()
    def fit(self, frames: np.ndarray | Iterable[np.ndarray], chunk: int = 65536) -> None:
        """Fit on all frames of the training split: one ``[N, dim]`` array or an iterable of blocks."""
        dim = self.mean.shape[0]
        total, total_sq, count = np.zeros(dim), np.zeros(dim), np.zeros(dim)
        blocks = (frames[i : i + chunk] for i in range(0, len(frames), chunk)) if isinstance(frames, np.ndarray) else frames
        for block in blocks:
            x = np.asarray(block, dtype=np.float64)
            valid = x != 0 if self.zero_is_missing else np.ones_like(x, dtype=bool)
            total += (x * valid).sum(0)
            total_sq += (x * x * valid).sum(0)
            count += valid.sum(0)
        n = np.maximum(count, 1)
        mean = total / n
        std = np.sqrt(np.maximum(total_sq / n - mean**2, 0.0)) + self.eps
        self.mean.copy_(torch.from_numpy(np.where(count > 0, mean, 0.0)))
        self.std.copy_(torch.from_numpy(np.where(count > 0, std, 1.0)))
        self.fitted.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = (x - self.mean) / self.std
        if self.zero_is_missing:
            y = y.masked_fill(x == 0, 0.0)
        return y

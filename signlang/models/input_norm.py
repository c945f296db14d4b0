"""Per-dimension input standardisation with statistics of the training set, saved with the model.

Raw keypoints live in [0, 1] and a sign is a few hundredths of movement; features have arbitrary
scales. Standardising each input dimension (fitted once on the training clips, before the first
step) lets the first layer see unit-scale inputs. The statistics are buffers, so checkpoints,
evaluation and prediction use exactly the ones training used.
"""

from __future__ import annotations

from collections.abc import Iterable

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
    def fit(self, frames: np.ndarray | Iterable[np.ndarray], chunk_values: int = 1 << 22) -> None:
        """Fit on all frames of the training split: one ``[N, dim]`` array or an iterable of blocks.

        Blocks are processed ~4M values at a time in float32 and summed in float64, so fitting
        costs a few MB of memory whatever the size of the split.
        """
        dim = self.mean.shape[0]
        rows = max(1, chunk_values // dim)
        total, total_sq, count = np.zeros(dim), np.zeros(dim), np.zeros(dim)
        blocks = [frames] if isinstance(frames, np.ndarray) else frames
        for block in blocks:
            for start in range(0, len(block), rows):
                x = np.asarray(block[start : start + rows], dtype=np.float32)
                if self.zero_is_missing:
                    x = np.where(x != 0, x, np.nan)
                    total += np.nansum(x, axis=0, dtype=np.float64)
                    total_sq += np.nansum(x * x, axis=0, dtype=np.float64)
                    count += (~np.isnan(x)).sum(axis=0)
                else:
                    total += x.sum(axis=0, dtype=np.float64)
                    total_sq += np.einsum("ij,ij->j", x, x, dtype=np.float64)
                    count += len(x)
        n = np.maximum(count, 1)
        mean = total / n
        std = np.sqrt(np.maximum(total_sq / n - mean**2, 0.0)) + self.eps
        self.mean.copy_(torch.from_numpy(np.where(count > 0, mean, 0.0)))
        self.std.copy_(torch.from_numpy(np.where(count > 0, std, 1.0)))
        self.fitted.fill_(True)

    def affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scale, shift)`` with ``normalised = x * scale + shift``, for callers that fuse it with other ops."""
        scale = 1.0 / self.std
        return scale, -self.mean * scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale, shift = self.affine()
        y = torch.addcmul(shift, x, scale)
        if self.zero_is_missing:
            y = y.masked_fill(x == 0, 0.0)
        return y


def fit_input_norm(model: nn.Module, batches: Iterable) -> None:
    """Fit ``model.input_norm`` (if it has one that is not fitted yet) on the training split as the
    model sees it. ``batches`` (anything with ``x [B,T,D]`` and ``pad_mask [B,T]``) are the training
    clips after the pipeline's normalisation, never its augmentation (``TrainingData.statistics``);
    keypoint models are fitted on their per-frame views (``model.frame_features``); real frames only."""
    norm = getattr(model, "input_norm", None)
    if norm is None or bool(norm.fitted):
        return
    share = getattr(model, "share_input_norm", None)  # an ensemble: fitted once, copied to every member
    views = getattr(model, "frame_features", None)
    with torch.no_grad():
        norm.fit((views(b.x, b.pad_mask) if views else b.x.float())[~b.pad_mask].numpy() for b in batches)
    if share is not None:
        share()

"""Per-frame InceptionV3 features (torchvision, fc removed): ``X2048 [T,2048]``."""

from __future__ import annotations

import numpy as np
import torch

from signlang.models.inception import IMAGENET, inception_backbone, inception_input


class InceptionFeatures:
    """Frames resized to 299x299, ImageNet-normalised, through InceptionV3 in batches.

    ``weights``: a local torchvision ``inception_v3`` state dict, or None for torchvision's ImageNet
    weights (downloaded once into torch's hub cache; offline and not cached: one clear message).
    ``random_weights=True`` for tests and pipeline checks only: those features mean nothing.
    """

    def __init__(
        self, weights: str | None = None, random_weights: bool = False, device: str = "cpu", batch_size: int = 32
    ) -> None:
        torch.manual_seed(0)  # random weights: the same network in every worker
        self.net = inception_backbone(False if random_weights else (weights or IMAGENET)).eval().to(device)
        self.device = torch.device(device)
        self.batch_size = batch_size

    @torch.no_grad()
    def __call__(self, frames: list[np.ndarray]) -> np.ndarray:
        out = []
        for start in range(0, len(frames), self.batch_size):
            chunk = torch.from_numpy(np.stack(frames[start : start + self.batch_size])).to(self.device)
            out.append(self.net(inception_input(chunk)).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32)

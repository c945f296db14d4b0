"""Per-frame InceptionV3 features (torchvision, fc removed): ``X2048 [T,2048]``."""

from __future__ import annotations

import numpy as np
import torch

from signlang.errors import ConfigError
from signlang.models.iv3_gru import inception_backbone, inception_input


class InceptionFeatures:
    """Frames resized to 299x299, ImageNet-normalised, through InceptionV3 in batches.

    ``weights`` is a local torchvision ``inception_v3`` state dict; nothing is downloaded. Random
    weights only with ``random_weights=True`` (tests, pipelines checks): their features mean nothing.
    """

    def __init__(self, weights: str | None = None, random_weights: bool = False, device: str = "cpu", batch_size: int = 32) -> None:
        if not weights and not random_weights:
            raise ConfigError(
                "--features needs InceptionV3 weights: --iv3-weights PATH (a local torchvision inception_v3 "
                "state dict, e.g. saved from torchvision.models.inception_v3(weights='DEFAULT')); "
                "--random-weights gives meaningless features, for tests only"
            )
        torch.manual_seed(0)  # random weights: the same network in every worker
        self.net = inception_backbone(weights or False).eval().to(device)
        self.device = torch.device(device)
        self.batch_size = batch_size

    @torch.no_grad()
    def __call__(self, frames: list[np.ndarray]) -> np.ndarray:
        out = []
        for start in range(0, len(frames), self.batch_size):
            chunk = torch.from_numpy(np.stack(frames[start : start + self.batch_size])).to(self.device)
            out.append(self.net(inception_input(chunk)).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32)

"""An exponential moving average of the model's weights (``trainer.ema``).

Averaged weights are a cheap ensemble of the last few thousand steps: smoother val curves (so
the best-checkpoint rule is not fooled by one lucky epoch) and, on small data, usually better
accuracy than the raw weights at any single step. The average is what validation scores, what
``<Model>_best.pt`` / ``_last.pt`` hold under ``model`` (so evaluation and prediction use it),
and the raw weights travel beside it for resuming.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from signlang.errors import ConfigError


class EMA:
    """``avg = d * avg + (1 - d) * weights`` after every optimizer step, with ``d`` ramped up as
    ``min(decay, (1 + n) / (10 + n))`` so the first steps do not drag in the random initialisation."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"trainer.ema must be a decay in (0, 1) (e.g. 0.999) or null, got {decay}")
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self._pairs = [(a, m) for a, m in zip(self.module.state_dict().values(), model.state_dict().values())]
        self._float = [(a, m) for a, m in self._pairs if a.dtype.is_floating_point]
        self._other = [(a, m) for a, m in self._pairs if not a.dtype.is_floating_point]

    @torch.no_grad()
    def update(self) -> None:
        """Fold the model's current weights into the average (call after ``optimizer.step()``)."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        averaged, current = zip(*self._float)
        torch._foreach_lerp_(list(averaged), list(current), 1.0 - d)
        for a, m in self._other:  # integer buffers (counters, flags) follow the model
            a.copy_(m)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict, updates: int) -> None:
        self.module.load_state_dict(state)
        self.updates = updates

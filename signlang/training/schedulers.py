"""Learning-rate schedules, stepped once per epoch after validation.

Every schedule is built from a partial (``_partial_: true`` in ``conf/scheduler``) and the
optimizer; the lr in effect during epoch ``e`` is the one the trainer logs for that epoch.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, ReduceLROnPlateau

from signlang.errors import ConfigError


def constant(optimizer: Optimizer) -> LRScheduler:
    """``scheduler=none``: keep ``optim.lr`` for the whole run."""
    return LambdaLR(optimizer, lambda epoch: 1.0)


def cosine(optimizer: Optimizer, epochs: int, warmup_epochs: int = 0, min_lr_ratio: float = 0.0) -> LRScheduler:
    """Linear warm-up over ``warmup_epochs``, then cosine decay towards ``min_lr_ratio * lr`` over the rest."""
    if not 0 <= warmup_epochs < epochs:
        raise ConfigError(f"scheduler.warmup_epochs ({warmup_epochs}) must be smaller than trainer.max_epochs ({epochs})")
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ConfigError(f"scheduler.min_lr_ratio must be in [0, 1], got {min_lr_ratio}")

    def factor(epoch: int) -> float:
        if epoch < warmup_epochs:
            return (epoch + 1) / (warmup_epochs + 1)
        progress = min(1.0, (epoch - warmup_epochs) / (epochs - warmup_epochs))  # never 0 lr in the last epoch
        return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def plateau(optimizer: Optimizer, patience: int = 5, factor: float = 0.5, min_lr: float = 0.0) -> ReduceLROnPlateau:
    """Multiply the lr by ``factor`` when val gloss accuracy has not improved for ``patience`` epochs."""
    if not 0.0 < factor < 1.0:
        raise ConfigError(f"scheduler.factor must be in (0, 1), got {factor}")
    return ReduceLROnPlateau(optimizer, mode="max", patience=patience, factor=factor, min_lr=min_lr)

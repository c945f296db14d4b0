"""Learning-rate schedules over the run's optimizer steps.

Every schedule is built from a partial (``_partial_: true`` in ``conf/scheduler``) once the
trainer knows how long the run is: ``make(optimizer, total_steps=..., steps_per_epoch=...)``.
``cosine`` and ``constant`` step after every optimizer step, so a run's length can be set in steps
(``trainer.max_steps`` / ``trainer.min_steps``) and the schedule still ends where training does;
``plateau`` watches val accuracy and steps once per epoch (:func:`per_epoch`).
"""

from __future__ import annotations

import math
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, ReduceLROnPlateau

from signlang.core.errors import ConfigError


def constant(optimizer: Optimizer, **_: Any) -> LRScheduler:
    """``scheduler=none``: keep ``optim.lr`` for the whole run."""
    return LambdaLR(optimizer, lambda step: 1.0)


def cosine(
    optimizer: Optimizer,
    total_steps: int,
    steps_per_epoch: int = 1,
    warmup_epochs: float = 0,
    min_lr_ratio: float = 0.0,
) -> LRScheduler:
    """Linear warm-up over ``warmup_epochs`` (may be fractional), then cosine decay towards
    ``min_lr_ratio * lr`` at the run's last step."""
    warmup = round(warmup_epochs * steps_per_epoch)
    if warmup_epochs < 0 or warmup >= total_steps:
        raise ConfigError(
            f"scheduler.warmup_epochs ({warmup_epochs}, {warmup} steps) must be >= 0 and shorter than the run "
            f"({total_steps} steps)"
        )
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ConfigError(f"scheduler.min_lr_ratio must be in [0, 1], got {min_lr_ratio}")

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, (step - warmup) / (total_steps - warmup))  # never 0 lr at the last step
        return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def plateau(
    optimizer: Optimizer, patience: int = 5, factor: float = 0.5, min_lr: float = 0.0, **_: Any
) -> ReduceLROnPlateau:
    """Multiply the lr by ``factor`` when val gloss accuracy has not improved for ``patience`` epochs."""
    if not 0.0 < factor < 1.0:
        raise ConfigError(f"scheduler.factor must be in (0, 1), got {factor}")
    return ReduceLROnPlateau(optimizer, mode="max", patience=patience, factor=factor, min_lr=min_lr)


def per_epoch(scheduler: Any) -> bool:
    """Whether ``scheduler`` steps once per epoch on val accuracy (else once per optimizer step)."""
    return isinstance(scheduler, ReduceLROnPlateau)

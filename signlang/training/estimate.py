"""How long a run will take, said before it starts: a few steps timed on a copy of the model."""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING

import torch

from signlang.training.optim import param_groups
from signlang.training.rng import rng_state, set_rng_state

if TYPE_CHECKING:
    from signlang.training.fit import Fit


@torch.no_grad()
def expected_seconds(fit: Fit, steps: int, epochs: int) -> tuple[float, float]:
    """(training, validation) seconds the rest of the run should take: ``steps`` training steps and
    ``epochs`` validation passes, extrapolated from three timed steps (after one warm-up step) and
    one val batch on a copy of the model. The run's weights, optimizer state and RNG streams are
    left as they were."""
    trainer = fit.trainer
    probe = copy.deepcopy(fit.model).to(trainer.device)
    opt = fit.make_optimizer(param_groups(probe))
    scaler = torch.amp.GradScaler(trainer.device.type, enabled=False)  # timing only: no loss scaling needed
    rng = rng_state()
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    times = []
    batches = iter(fit.data.train)
    for _ in range(4):
        batch = next(batches, None)
        if batch is None:
            break
        batch = batch.to(trainer.device)
        start = time.perf_counter()
        with torch.enable_grad():
            probe.train()
            trainer.train_step(probe, batch, opt, scaler)
        sync()
        times.append(time.perf_counter() - start)
    step = sum(times[1:]) / (len(times) - 1) if len(times) > 1 else sum(times)
    val = 0.0
    batch = next(iter(fit.data.val), None)  # a rank may have no val batch (every clip is scored once)
    if batch is not None:
        batch = batch.to(trainer.device)
        probe.eval()
        start = time.perf_counter()
        with trainer.autocast():
            probe(batch.x, batch.pad_mask, batch.lengths)
        sync()
        val = (time.perf_counter() - start) * len(fit.data.val) * epochs
    set_rng_state(rng)
    return step * steps, val

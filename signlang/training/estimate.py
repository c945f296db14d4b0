"""How long a run will take, said before it starts: a few steps timed on a copy of the model."""

from __future__ import annotations

import copy
import time

import torch
from torch import nn

from signlang.training.rng import rng_state, set_rng_state


@torch.no_grad()
def expected_seconds(
    trainer, model: nn.Module, optimizer, train_loader, val_loader, steps: int, epochs: int
) -> tuple[float, float]:
    """(training, validation) seconds the rest of the run should take: ``steps`` training steps and
    ``epochs`` validation passes, extrapolated from three timed steps (after one warm-up step) and
    one val batch on a copy of the model. The run's weights, optimizer state and RNG streams are
    left as they were."""
    from signlang.training.trainer import param_groups

    probe = copy.deepcopy(model).to(trainer.device)
    opt = optimizer(param_groups(probe))
    scaler = torch.amp.GradScaler(trainer.device.type, enabled=False)
    rng = rng_state()
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    times = []
    batches = iter(train_loader)
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
    batch = next(iter(val_loader), None)  # a rank may have no val batch (every clip is scored once)
    if batch is not None:
        batch = batch.to(trainer.device)
        probe.eval()
        start = time.perf_counter()
        with trainer.autocast():
            probe(batch.x, batch.pad_mask, batch.lengths)
        sync()
        val = (time.perf_counter() - start) * len(val_loader) * epochs
    set_rng_state(rng)
    return step * steps, val

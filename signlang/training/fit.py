"""One fit in progress (:class:`Fit`), the loop's counters (:class:`LoopState`) and the hooks a
callback may implement (:class:`Callback`). They live here, apart from the trainer that builds a fit
and the callbacks that use one, so that imports point one way: callbacks and trainer -> fit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from signlang import __version__
from signlang.data.module import TrainingData
from signlang.runs.folder import RunFolder
from signlang.training.distributed import Distributed
from signlang.training.rng import rng_state


class Callback:
    """Hooks the loop calls; each does nothing unless a subclass says otherwise."""

    order = 50  # lower runs first

    def setup(self, fit: Fit) -> None:
        """After the model, optimizer and loaders exist, before a resumed run's state is restored."""

    def on_fit_start(self, fit: Fit) -> None:
        """Just before the first epoch of this session."""

    def on_train_epoch_start(self, fit: Fit, epoch: int, steps: int) -> None: ...

    def on_train_step(self, fit: Fit, step: int, loss: torch.Tensor) -> None:
        """After every optimizer step; ``loss`` is still on the device (reading it waits for the GPU)."""

    def on_train_epoch_end(self, fit: Fit, epoch: int) -> None:
        """After the epoch's training steps, before validation."""

    def on_validation_batch(self, fit: Fit) -> None: ...

    def on_epoch_end(self, fit: Fit, row: dict[str, Any]) -> None:
        """After validation, with the epoch's ``metrics.csv`` row; the checkpoint is written next."""

    def on_fit_end(self, fit: Fit) -> None:
        """After the last epoch (the best checkpoint is evaluated next, by ``run.py``)."""

    def teardown(self, fit: Fit) -> None:
        """Always, when the fit ends: finished, stopped by a signal or an error."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class LoopState:
    """The loop's own counters, saved in every checkpoint so a resumed run picks up exactly."""

    epoch: int = 0  # last completed epoch
    steps: int = 0  # optimizer steps taken
    history: list[dict[str, Any]] = field(default_factory=list)  # metrics.csv rows

    def record(self, row: dict[str, Any]) -> None:
        self.epoch, self.steps = row["epoch"], row["step"]
        self.history.append(row)


@dataclass
class Fit:
    """One fit in progress: what the loop works on, and what the callbacks see and change."""

    trainer: Any  # the signlang.training.trainer.Trainer that runs it: its settings
    model: nn.Module  # the weights the optimizer steps
    model_name: str
    data: TrainingData
    run: RunFolder
    dist: Distributed
    make_optimizer: Callable[..., Optimizer]
    optimizer: Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    steps_per_epoch: int
    total_steps: int
    epochs: int
    callbacks: list[Callback]
    meta: dict[str, Any]  # the run's fixed facts, in every checkpoint: model name, config, label names, ...
    loop: LoopState = field(default_factory=LoopState)
    eval_model: nn.Module | None = None  # what validation scores and checkpoints hold as "model" (ema: the average)
    step_model: nn.Module | None = None  # the model the steps run on (DDP-wrapped, compiled)
    improved: bool = False  # this epoch is the best so far (callbacks.checkpoint)
    stop: str | None = None  # why training ends before its length (callbacks.early_stopping)
    summary: dict[str, Any] = field(default_factory=dict)  # what the callbacks add to summary.json

    @property
    def validated(self) -> nn.Module:
        """The module validation runs: the evaluated weights, compiled when the steps are (never DDP)."""
        return self.step_model if self.eval_model is self.model and not self.dist.enabled else self.eval_model

    def call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    def state(self) -> dict[str, Any]:
        """The checkpoint of the epoch just recorded: the evaluated weights under ``model`` (what
        evaluation and prediction load), the stepped ones under ``train_model`` when they differ, and
        everything resuming needs (optimizer, scheduler, scaler, counters, callbacks, every RNG)."""
        state = {**self.meta, "model": self.eval_model.state_dict()}
        if self.eval_model is not self.model:
            state["train_model"] = self.model.state_dict()
        return {
            **state,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.loop.epoch,
            "best_epoch": self.summary.get("best_epoch"),
            "loop": {"epoch": self.loop.epoch, "steps": self.loop.steps, "history": self.loop.history},
            "callbacks": {type(c).__name__: c.state_dict() for c in self.callbacks},
            "rng": rng_state(),
            "signlang_version": __version__,
        }

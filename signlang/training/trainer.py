"""One readable training loop: train an epoch, validate, checkpoint, log a row, repeat.

``conf/trainer/*.yaml`` instantiates :class:`Trainer`; ``run.py`` hands it the model, the data,
the optimizer and scheduler partials and the run folder. Batching lives in the data
(``ClipData.loader``), input statistics next to ``InputNorm``, checkpoint contents in
``checkpoint.py``, resuming in ``resume.py``; what is left here is the loop.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import Optimizer

from signlang import __version__
from signlang.console import duration, progress_bar
from signlang.data.clips import Batch
from signlang.data.module import ClipData
from signlang.errors import ConfigError, SignlangError
from signlang.models.input_norm import fit_input_norm
from signlang.runtime import resolve_device
from signlang.training.checkpoint import load_weights, restore_training, training_state
from signlang.training.distributed import Distributed
from signlang.training.ema import EMA
from signlang.training.estimate import expected_seconds
from signlang.training.resume import check_can_continue, resume_checkpoint
from signlang.training.run_folder import RunFolder
from signlang.training.schedulers import per_epoch
from signlang.training.signals import InterruptGuard

log = logging.getLogger(__name__)

METRIC_COLUMNS = (
    "epoch",
    "step",
    "train_loss",
    "train_gloss_acc",
    "train_cat_acc",
    "val_loss",
    "val_gloss_acc",
    "val_cat_acc",
    "lr",
    "epoch_time_s",
    "train_time_s",
    "data_wait",
)
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# trainer.compile: torch.compile's mode (true = "default"); reduce-overhead captures CUDA graphs, one
# per input shape, so it wants static shapes (data.pad_to) and compiles without dynamic shapes.
COMPILE_MODES = (False, True, "default", "reduce-overhead", "max-autotune")
# trainer.monitor: which epoch is "best" (checkpoints/<Model>_best.pt, early stopping). Keys compare
# as lists, larger is better.
MONITORS = {
    "val_gloss_acc": lambda row: [row["val_gloss_acc"], -row["val_loss"]],  # ties: lower val loss
    "val_loss": lambda row: [-row["val_loss"], row["val_gloss_acc"]],
    "last": lambda row: [row["epoch"]],  # the end of the schedule (with trainer.ema: the averaged weights)
}


class TrainingDiverged(SignlangError):
    """The loss became NaN or infinite."""


def param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Weight decay on weight matrices only; biases, norms and learned tokens are not decayed."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 and "token" not in name else no_decay).append(p)
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]


@dataclass
class LoopState:
    """The loop's own counters, saved in every checkpoint so a resumed run picks up exactly."""

    epoch: int = 0  # last completed epoch
    steps: int = 0  # optimizer steps taken
    best_key: list[float] | None = None  # the monitored quantity of the best epoch (MONITORS)
    best_epoch: int | None = None
    best: dict[str, float] = field(default_factory=dict)
    stale_epochs: int = 0  # epochs since the best one (early stopping)
    history: list[dict[str, Any]] = field(default_factory=list)  # metrics.csv rows

    def record(self, row: dict[str, Any], monitor: str = "val_gloss_acc") -> bool:
        """Add an epoch's row; returns whether it is the new best by ``monitor`` (see MONITORS)."""
        self.epoch, self.steps = row["epoch"], row["step"]
        self.history.append(row)
        key = MONITORS[monitor](row)
        if self.best_key is None or key > self.best_key:
            self.best_key, self.best_epoch, self.stale_epochs = key, self.epoch, 0
            self.best = {k: row[k] for k in ("val_loss", "val_gloss_acc", "val_cat_acc")}
            return True
        self.stale_epochs += 1
        return False


class Trainer:
    """Fits a two-head model (gloss, category) and keeps the run folder up to date after every epoch."""

    def __init__(
        self,
        max_epochs: int = 10,
        max_steps: int | None = None,
        min_steps: int | None = None,
        seed: int = 0,
        device: str = "auto",
        deterministic: bool = False,
        amp: bool = False,
        amp_dtype: str = "auto",
        gloss_weight: float = 0.5,
        cat_weight: float = 0.5,
        label_smoothing: float = 0.0,
        grad_clip: float | None = None,
        early_stop: int | None = None,
        monitor: str = "val_gloss_acc",
        ema: float | None = None,
        resume: str | None = None,
        compile: bool | str = False,
        limit_train_batches: int | None = None,
        limit_val_batches: int | None = None,
        log_every: int = 10,
        progress: bool = True,
    ) -> None:
        if max_epochs < 1:
            raise ConfigError(f"trainer.max_epochs must be >= 1, got {max_epochs}")
        for key, value in (("max_steps", max_steps), ("min_steps", min_steps), ("early_stop", early_stop)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"trainer.{key} must be an integer >= 1 or null, got {value!r}")
        if gloss_weight < 0 or cat_weight < 0 or gloss_weight + cat_weight == 0:
            raise ConfigError("trainer.gloss_weight and trainer.cat_weight must be >= 0 and not both 0")
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"trainer.label_smoothing must be in [0, 1), got {label_smoothing}")
        if grad_clip is not None and grad_clip <= 0:
            raise ConfigError(f"trainer.grad_clip must be > 0 or null, got {grad_clip}")
        if monitor not in MONITORS:
            raise ConfigError(f"trainer.monitor must be one of {', '.join(MONITORS)}, got {monitor!r}")
        if ema is not None and not 0.0 < ema < 1.0:
            raise ConfigError(f"trainer.ema must be a decay in (0, 1) (e.g. 0.999) or null, got {ema}")
        if compile not in COMPILE_MODES:
            raise ConfigError(f"trainer.compile must be one of {', '.join(map(str, COMPILE_MODES))}, got {compile!r}")
        if amp_dtype not in ("auto", *AMP_DTYPES):
            raise ConfigError(f"trainer.amp_dtype must be auto, bf16 or fp16, got {amp_dtype!r}")
        self.device = resolve_device(device)
        self.amp = bool(amp)
        if self.amp and self.device.type != "cuda":
            log.warning("trainer.amp=true needs CUDA; training on %s in float32 instead", self.device)
            self.amp = False
        if amp_dtype == "auto":
            amp_dtype = "bf16" if self.amp and torch.cuda.is_bf16_supported() else "fp16"
        self.amp_dtype = AMP_DTYPES[amp_dtype]
        self.max_epochs, self.max_steps, self.min_steps = max_epochs, max_steps, min_steps
        self.seed, self.deterministic = seed, deterministic
        self.gloss_weight, self.cat_weight = gloss_weight, cat_weight
        self.label_smoothing, self.grad_clip = label_smoothing, grad_clip
        self.early_stop, self.monitor, self.ema = early_stop, monitor, ema
        self.resume, self.compile = resume, compile
        self.limit_train_batches, self.limit_val_batches = limit_train_batches, limit_val_batches
        self.log_every = max(1, log_every)
        self.progress = progress
        self.dist = Distributed()  # fit() receives the real one under torchrun

    # ------------------------------------------------------------- a step, an epoch, an evaluation
    def loss(self, logits: tuple[torch.Tensor, torch.Tensor], batch: Batch) -> torch.Tensor:
        gloss_logits, cat_logits = (t.float() for t in logits)
        ce = lambda z, y: F.cross_entropy(z, y, label_smoothing=self.label_smoothing)  # noqa: E731
        return self.gloss_weight * ce(gloss_logits, batch.gloss) + self.cat_weight * ce(cat_logits, batch.cat)

    def autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype, enabled=self.amp)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Loss scaling, on only for fp16 autocast (bf16 and float32 need none)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp and self.amp_dtype == torch.float16)

    def train_step(
        self, model, batch: Batch, optimizer, scaler
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One forward, backward and optimizer step (also what ``signlang.bench`` times); returns the loss
        and logits, still on the device."""
        with self.autocast():
            logits = model(batch.x, batch.pad_mask, batch.lengths)
            loss = self.loss(logits, batch)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if self.grad_clip is not None:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        return loss, logits

    def _batches(self, loader, limit: int | None, progress, label: str, clock: dict | None = None):
        """At most ``limit`` batches moved to the device; ``clock["wait"]`` sums the time spent waiting for them."""
        total = len(loader) if limit is None else min(limit, len(loader))
        task = progress.add_task(label, total=total, status="")
        batches = iter(loader)
        for _ in range(total):
            start = time.perf_counter()
            batch = next(batches).to(self.device, non_blocking=getattr(loader, "pin_memory", False))
            if clock is not None:
                clock["wait"] += time.perf_counter() - start
            yield task, batch
            del batch  # not kept alive into the next wait (freeing a large batch is not waiting for data)
            progress.advance(task)
        progress.remove_task(task)

    @staticmethod
    def _tally(totals: torch.Tensor, loss: torch.Tensor, logits, batch: Batch) -> None:
        """Add a batch's loss and correct counts to running sums kept on the device (no host sync)."""
        totals += torch.stack(
            [
                loss.detach().float() * len(batch),
                (logits[0].argmax(1) == batch.gloss).sum(),
                (logits[1].argmax(1) == batch.cat).sum(),
            ]
        )

    def _means(self, totals: torch.Tensor, seen: int) -> dict[str, float]:
        n = self.dist.sum_counts(totals, seen)  # over all ranks
        loss_sum, gloss_ok, cat_ok = totals.tolist()
        return {"loss": loss_sum / n, "gloss_acc": gloss_ok / n, "cat_acc": cat_ok / n}

    def train_epoch(
        self, model, loader, optimizer, scheduler, scaler, progress, epoch: int, steps: int, ema: EMA | None = None
    ) -> dict[str, float]:
        """``steps`` optimizer steps over the epoch's training batches (fewer than a full pass at the end of a
        run whose length is set in steps); ``scheduler`` (if any) steps after each. Also returns the epoch's
        time and the share of it spent waiting for data."""
        model.train()
        totals = torch.zeros(3, device=self.device)  # loss*n, gloss correct, cat correct
        first_bad = torch.tensor(-1, device=self.device)  # first step with a non-finite loss
        clock, seen, start = {"wait": 0.0}, 0, time.perf_counter()
        for step, (task, batch) in enumerate(self._batches(loader, steps, progress, f"epoch {epoch}", clock), start=1):
            loss, logits = self.train_step(model, batch, optimizer, scaler)
            if scheduler is not None:
                scheduler.step()
            if ema is not None:
                ema.update()
            seen += len(batch)
            self._tally(totals, loss, logits, batch)
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), step, first_bad)
            if step % self.log_every == 0:  # the only host syncs: the progress display and the NaN check
                self._check_finite(first_bad, epoch)
                progress.update(task, status=f"loss {totals[0].item() / seen:.4f}")
        self._check_finite(first_bad, epoch)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        return {**self._means(totals, seen), "time_s": elapsed, "data_wait": clock["wait"] / max(elapsed, 1e-9)}

    def _check_finite(self, first_bad: torch.Tensor, epoch: int) -> None:
        step = int(self.dist.max(first_bad.clone()).item())  # every rank stops together
        if step >= 0:
            raise TrainingDiverged(
                f"non-finite loss at epoch {epoch}, step {step}; training stopped and the last good checkpoint "
                f"({'epoch ' + str(epoch - 1) if epoch > 1 else 'none yet'}) is kept. "
                "Lower optim.lr, set trainer.grad_clip, or check the data for extreme values"
            )

    @torch.no_grad()
    def evaluate(self, model, loader, progress, label: str, limit: int | None = None) -> dict[str, float]:
        """Loss and top-1 accuracies over ``loader`` (every clip counted once)."""
        model.eval()
        totals = torch.zeros(3, device=self.device)
        seen = 0
        for _, batch in self._batches(loader, limit, progress, label):
            with self.autocast():
                logits = model(batch.x, batch.pad_mask, batch.lengths)
            self._tally(totals, self.loss(logits, batch), logits, batch)
            seen += len(batch)
        return self._means(totals, seen)

    # ------------------------------------------------------------------------- the run's length
    def total_steps(self, steps_per_epoch: int) -> int:
        """The run's length in optimizer steps: ``max_steps`` when set, else ``max_epochs`` epochs, but at
        least ``min_steps`` (so small datasets still get enough updates)."""
        if self.max_steps is not None:
            return self.max_steps
        return max(self.max_epochs * steps_per_epoch, self.min_steps or 0)

    def length_reason(self, steps_per_epoch: int) -> str:
        """Which setting decided the run's length, for the log."""
        if self.max_steps is not None:
            return "trainer.max_steps"
        if (self.min_steps or 0) > self.max_epochs * steps_per_epoch:
            return (
                f"trainer.min_steps: trainer.max_epochs={self.max_epochs} would be {self.max_epochs * steps_per_epoch}"
            )
        return f"trainer.max_epochs={self.max_epochs}"

    # ----------------------------------------------------------------------------------- the loop
    def fit(
        self,
        model: nn.Module,
        data: ClipData,
        optimizer: Callable[..., Optimizer],
        scheduler: Callable[..., Any],
        run: RunFolder,
        config: dict[str, Any] | None = None,
        transform=None,
        dist: Distributed | None = None,
    ) -> dict[str, Any]:
        """Train for the run's length (``total_steps``) or until an early stop; returns the summary (the run
        is still ``running``: evaluation of the best checkpoint comes next, see ``signlang.evaluation``)."""
        self.dist, name = dist or Distributed(), type(model).__name__
        data.setup()  # every split is normalised once, up front; batches are only augmented after that
        train_clips, val_clips = (
            transform.prepare(data.split(s)) if transform else data.split(s) for s in ("train", "val")
        )
        resumed = resume_checkpoint(run, name, self.resume, self.device) if self.resume else None
        if resumed is None:
            fit_input_norm(model, train_clips, transform, data.eval_batch_size)  # training statistics only
        else:
            load_weights(model, resumed)
        model.to(self.device)
        place = dict(transform=transform, device=self.device, rank=self.dist.rank, world_size=self.dist.world_size)
        train_loader = data.loader(train_clips, train=True, seed=self.seed, **place)
        val_loader = data.loader(val_clips, train=False, **place)
        per_epoch_steps = min(len(train_loader), self.limit_train_batches or len(train_loader))
        total = self.total_steps(per_epoch_steps)
        epochs = math.ceil(total / per_epoch_steps)
        opt = optimizer(param_groups(model))
        sched = scheduler(opt, total_steps=total, steps_per_epoch=per_epoch_steps)
        scaler = self.grad_scaler()
        ema = EMA(model, self.ema) if self.ema else None
        loop = LoopState()
        if resumed is not None:
            loop = LoopState(**restore_training(resumed, opt, sched, scaler, ema))
            check_can_continue(run, loop.steps, loop.epoch, total)
            run.start_resumed_session()
            run.append_missing_metrics(loop.history)
            log.info("resuming %s after epoch %d (step %d of %d)", run.path, loop.epoch, loop.steps, total)
        step_model, eval_model = self.wrap(model, ema)
        self._log_start(
            model,
            ema,
            run,
            data,
            transform,
            opt_factory=optimizer,
            loaders=(train_loader, val_loader),
            loop=loop,
            total=total,
            epochs=epochs,
            per_epoch_steps=per_epoch_steps,
        )
        run.set_status(
            "running",
            model=name,
            max_epochs=epochs,
            total_steps=total,
            device=str(self.device),
            signlang_version=__version__,
        )
        meta = {
            "model_name": name,
            "config": config or {},
            "gloss_names": data.gloss_names,
            "cat_names": data.cat_names,
            "launch_dir": os.getcwd(),  # relative data paths in the config are relative to it
            "extraction": data.extraction(),
        }  # how signlang predict turns a video into a clip

        with InterruptGuard() as guard, progress_bar(self.progress and self.dist.is_main) as progress:
            for epoch in range(loop.epoch + 1, epochs + 1):
                steps, start, lr = (
                    min(per_epoch_steps, total - loop.steps),
                    time.perf_counter(),
                    opt.param_groups[0]["lr"],
                )
                train_loader.batch_sampler.set_epoch(epoch)
                train = self.train_epoch(
                    step_model,
                    train_loader,
                    opt,
                    None if per_epoch(sched) else sched,
                    scaler,
                    progress,
                    epoch,
                    steps,
                    ema,
                )
                val = self.evaluate(eval_model, val_loader, progress, "val", self.limit_val_batches)
                if per_epoch(sched):
                    sched.step(val["gloss_acc"])
                row = {
                    "epoch": epoch,
                    "step": loop.steps + steps,
                    **{f"train_{k}": train[k] for k in ("loss", "gloss_acc", "cat_acc")},
                    **{f"val_{k}": v for k, v in val.items()},
                    "lr": lr,
                    "epoch_time_s": round(time.perf_counter() - start, 3),
                    "train_time_s": round(train["time_s"], 3),
                    "data_wait": round(train["data_wait"], 4),
                }
                improved = loop.record(row, self.monitor)
                with guard.critical():  # a signal here waits until the run's files are consistent
                    run.save_checkpoints(
                        name, training_state(meta, model, ema, opt, sched, scaler, loop), best=improved
                    )
                    run.append_metrics(row)
                    run.update_summary(
                        epochs_completed=epoch, steps_completed=loop.steps, best_epoch=loop.best_epoch, best=loop.best
                    )
                log.info(
                    "epoch %d/%d  train loss %.4f gloss %.3f cat %.3f | val loss %.4f gloss %.3f cat %.3f | lr %.2e | %.1fs%s",
                    epoch,
                    epochs,
                    train["loss"],
                    train["gloss_acc"],
                    train["cat_acc"],
                    val["loss"],
                    val["gloss_acc"],
                    val["cat_acc"],
                    lr,
                    row["epoch_time_s"],
                    "  * best" if improved else "",
                )
                if self.early_stop is not None and loop.stale_epochs >= self.early_stop:
                    log.info(
                        "early stop: %s has not improved for %d epochs (trainer.early_stop)",
                        self.monitor,
                        loop.stale_epochs,
                    )
                    run.update_summary(early_stopped={"epoch": epoch, "patience": self.early_stop})
                    break
        log.info(
            "trained: best epoch %d (%s), val gloss %.3f cat %.3f",
            loop.best_epoch,
            self.monitor,
            loop.best["val_gloss_acc"],
            loop.best["val_cat_acc"],
        )
        return run.update_summary(
            epochs_completed=loop.epoch, steps_completed=loop.steps, best_epoch=loop.best_epoch, best=loop.best
        )

    def wrap(self, model: nn.Module, ema: EMA | None = None) -> tuple[nn.Module, nn.Module]:
        """The model the steps run on (DDP-wrapped under torchrun, compiled with trainer.compile; same
        parameters) and the one validation scores (the averaged weights with trainer.ema; never DDP)."""
        step_model = model
        if self.dist.enabled:  # gradients averaged over ranks
            step_model = nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if self.compile:
            mode = "default" if self.compile is True else self.compile
            step_model = torch.compile(step_model, mode=mode, dynamic=mode != "reduce-overhead")
        return step_model, ema.module if ema is not None else (model if self.dist.enabled else step_model)

    def _log_start(
        self, model, ema, run, data, transform, opt_factory, loaders, loop, total, epochs, per_epoch_steps
    ) -> None:
        """What the run is about to do, and how long it should take."""
        if transform:
            log.info("transforms: %s", transform)
        n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        log.info("run folder: %s", run.path)
        log.info(
            "%s: %.2fM trainable parameters on %s%s%s",
            type(model).__name__,
            n_params / 1e6,
            self.device,
            f", AMP {str(self.amp_dtype)[6:]}" if self.amp else "",
            f", weights averaged (EMA {self.ema})" if ema else "",
        )
        train_s, val_s = expected_seconds(self, model, opt_factory, *loaders, total - loop.steps, epochs - loop.epoch)
        ranks = "" if self.dist.world_size == 1 else f" on each of {self.dist.world_size} ranks"
        left = f" for the {total - loop.steps} steps left" if loop.steps else ""
        log.info(
            "length: %d steps (%s; %d epochs of %d steps, batch %d%s); expected time%s about %s (training %s, validation %s)",
            total,
            self.length_reason(per_epoch_steps),
            epochs,
            per_epoch_steps,
            data.batch_size,
            ranks,
            left,
            duration(train_s + val_s),
            duration(train_s),
            duration(val_s),
        )

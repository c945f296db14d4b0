"""One readable training loop: train an epoch, validate, checkpoint, log a row, repeat.

``conf/trainer/*.yaml`` instantiates :class:`Trainer`; ``run.py`` hands it the model, the data,
the optimizer and scheduler partials and the run folder. Everything needed to continue a run
exactly (weights, optimizer, scheduler, AMP scaler, loop counters, RNG states) goes into
``<Model>_last.pt`` after every epoch.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import nn
from torch.optim import Optimizer
from torch.utils.data import DataLoader

from signlang import __version__
from signlang.data.cache import LazyClipSet
from signlang.data.clips import Batch, ClipSet
from signlang.data.loader import make_loader
from signlang.data.module import ClipData
from signlang.data.prefetch import ThreadPrefetcher
from signlang.errors import ConfigError, SignlangError
from signlang.runtime import resolve_device
from signlang.training.checkpoint import load_checkpoint, save_checkpoint
from signlang.training.distributed import Distributed
from signlang.training.ema import EMA
from signlang.training.rng import rng_state, set_rng_state
from signlang.training.run_folder import RunFolder
from signlang.training.schedulers import per_epoch
from signlang.training.signals import InterruptGuard

log = logging.getLogger(__name__)

METRIC_COLUMNS = (
    "epoch", "step", "train_loss", "train_gloss_acc", "train_cat_acc",
    "val_loss", "val_gloss_acc", "val_cat_acc", "lr", "epoch_time_s", "train_time_s", "data_wait",
)  # fmt: skip
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
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
        self.epoch = row["epoch"]
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
        num_workers: int | str = "auto",
        pin_memory: bool | str = "auto",
        prefetch_factor: int = 2,
        resume: str | None = None,
        compile: bool = False,
        prefetch: bool = True,
        limit_train_batches: int | None = None,
        limit_val_batches: int | None = None,
        log_every: int = 10,
        progress: bool = True,
    ) -> None:
        if max_epochs < 1:
            raise ConfigError(f"trainer.max_epochs must be >= 1, got {max_epochs}")
        for key, value in (("max_steps", max_steps), ("min_steps", min_steps)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"trainer.{key} must be an integer >= 1 or null, got {value!r}")
        if monitor not in MONITORS:
            raise ConfigError(f"trainer.monitor must be one of {', '.join(MONITORS)}, got {monitor!r}")
        if gloss_weight < 0 or cat_weight < 0 or gloss_weight + cat_weight == 0:
            raise ConfigError("trainer.gloss_weight and trainer.cat_weight must be >= 0 and not both 0")
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"trainer.label_smoothing must be in [0, 1), got {label_smoothing}")
        if grad_clip is not None and grad_clip <= 0:
            raise ConfigError(f"trainer.grad_clip must be > 0 or null, got {grad_clip}")
        if early_stop is not None and early_stop < 1:
            raise ConfigError(f"trainer.early_stop must be >= 1 or null, got {early_stop}")
        if num_workers != "auto" and (not isinstance(num_workers, int) or num_workers < 0):
            raise ConfigError(f"trainer.num_workers must be auto or an integer >= 0, got {num_workers!r}")
        if amp_dtype not in ("auto", *AMP_DTYPES):
            raise ConfigError(f"trainer.amp_dtype must be auto, bf16 or fp16, got {amp_dtype!r}")
        self.max_epochs = max_epochs
        self.max_steps = max_steps
        self.min_steps = min_steps
        self.monitor = monitor
        self.ema = ema
        self.seed = seed
        self.device = resolve_device(device)
        self.deterministic = deterministic
        self.amp = bool(amp)
        if self.amp and self.device.type != "cuda":
            log.warning("trainer.amp=true needs CUDA; training on %s in float32 instead", self.device)
            self.amp = False
        if amp_dtype == "auto":
            amp_dtype = "bf16" if self.amp and torch.cuda.is_bf16_supported() else "fp16"
        self.amp_dtype = AMP_DTYPES[amp_dtype]
        self.gloss_weight = gloss_weight
        self.cat_weight = cat_weight
        self.label_smoothing = label_smoothing
        self.grad_clip = grad_clip
        self.early_stop = early_stop
        self.num_workers = num_workers  # "auto" is settled per split in loader()
        self.pin_memory = self.device.type == "cuda" if pin_memory == "auto" else bool(pin_memory)
        self.prefetch_factor = prefetch_factor
        self.resume = resume
        self.compile = compile
        self.prefetch = prefetch
        self.limit_train_batches = limit_train_batches
        self.limit_val_batches = limit_val_batches
        self.log_every = max(1, log_every)
        self.progress = progress
        self.dist = Distributed()  # fit() receives the real one under torchrun

    # ----------------------------------------------------------------- building blocks
    def workers_for(self, clips) -> int:
        """``auto``: 0 for splits held in memory or mmap (a batch is one gather; workers would only add
        inter-process copies); for ``data.cache=none`` (files read per batch) one per spare core, up to 4."""
        if self.num_workers != "auto":
            return int(self.num_workers)
        if isinstance(clips, LazyClipSet):
            return max(1, min(4, (os.cpu_count() or 2) - 1))
        return 0

    def loader(self, clips: ClipSet, batch_size: int, train: bool, bucket: bool = False, transform=None) -> DataLoader:
        return make_loader(
            clips,
            batch_size,
            shuffle=train,
            bucket=train and bucket,
            seed=self.seed,
            num_workers=self.workers_for(clips),
            pin_memory=self.pin_memory,
            prefetch_factor=self.prefetch_factor,
            transform=transform,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
        )

    def fit_input_norm(self, model: nn.Module, clips, transform, batch_size: int) -> None:
        """Standardisation statistics from the training split as the model will see it: after the
        pipeline's normalisation (not its augmentation), over real frames only."""
        norm = getattr(model, "input_norm", None)
        if norm is None or bool(norm.fitted):
            return
        views = getattr(model, "frame_features", None)  # what a keypoint model computes from each frame first
        if views is None and not (transform and transform.normalize and not getattr(clips, "normalized", False)):
            norm.fit(clips.chunks())
            return
        loader = make_loader(clips, batch_size, shuffle=False, transform=transform)  # every rank: all clips
        with torch.no_grad():
            norm.fit((views(b.x, b.pad_mask) if views else b.x.float())[~b.pad_mask].numpy() for b in loader)

    def loss(self, logits: tuple[torch.Tensor, torch.Tensor], batch: Batch) -> torch.Tensor:
        gloss_logits, cat_logits = (t.float() for t in logits)
        ce = lambda z, y: F.cross_entropy(z, y, label_smoothing=self.label_smoothing)  # noqa: E731
        return self.gloss_weight * ce(gloss_logits, batch.gloss) + self.cat_weight * ce(cat_logits, batch.cat)

    def _autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype, enabled=self.amp)

    def _batches(self, loader: DataLoader, limit: int | None, progress: Progress, label: str, clock: dict | None = None):
        """Batches moved to the device; ``clock["wait"]`` sums the time spent waiting for them."""
        total = len(loader) if limit is None else min(limit, len(loader))
        task = progress.add_task(label, total=total, status="")
        batches = iter(ThreadPrefetcher(loader) if loader.num_workers == 0 and self.prefetch else loader)
        for _ in range(total):
            start = time.perf_counter()
            batch = next(batches).to(self.device, non_blocking=self.pin_memory)
            if clock is not None:
                clock["wait"] += time.perf_counter() - start
            yield task, batch
            del batch  # not kept alive into the next wait (freeing a large batch is not waiting for data)
            progress.advance(task)
        progress.remove_task(task)

    @staticmethod
    def _tally(totals: torch.Tensor, loss: torch.Tensor, logits, batch: Batch) -> None:
        """Add a batch's loss and correct counts to running sums kept on the device (no host sync)."""
        totals += torch.stack([
            loss.detach().float() * len(batch),
            (logits[0].argmax(1) == batch.gloss).sum(),
            (logits[1].argmax(1) == batch.cat).sum(),
        ])  # fmt: skip

    @staticmethod
    def _means(totals: torch.Tensor, n: int) -> dict[str, float]:
        loss_sum, gloss_ok, cat_ok = totals.tolist()
        return {"loss": loss_sum / n, "gloss_acc": gloss_ok / n, "cat_acc": cat_ok / n}

    def train_epoch(self, model, loader, optimizer, scheduler, scaler, progress: Progress, epoch: int, steps: int, ema: EMA | None = None) -> dict[str, float]:
        """``steps`` optimizer steps over the epoch's training batches (fewer than a full pass in a run whose
        length is set in steps); also returns its time and the share spent waiting for data."""
        model.train()
        totals = torch.zeros(3, device=self.device)  # loss*n, gloss correct, cat correct
        first_bad = torch.tensor(-1, device=self.device)  # first step with a non-finite loss
        clock = {"wait": 0.0}
        seen = 0
        start = time.perf_counter()
        for step, (task, batch) in enumerate(self._batches(loader, steps, progress, f"epoch {epoch}", clock), start=1):
            seen += len(batch)
            loss, logits = self.train_step(model, batch, optimizer, scaler)
            if scheduler is not None:
                scheduler.step()
            if ema is not None:
                ema.update()
            self._tally(totals, loss, logits, batch)
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), step, first_bad)
            if step % self.log_every == 0:  # the only host syncs: the progress display and the NaN check
                self._check_finite(first_bad, epoch)
                progress.update(task, status=f"loss {totals[0].item() / seen:.4f}")
        self._check_finite(first_bad, epoch)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        seen = self._reduce(totals, seen)
        return {**self._means(totals, seen), "time_s": elapsed, "data_wait": clock["wait"] / max(elapsed, 1e-9)}

    def train_step(self, model, batch: Batch, optimizer, scaler) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One forward, backward and optimizer step; returns the loss and logits (still on the device)."""
        with self._autocast():
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
            return f"trainer.min_steps: trainer.max_epochs={self.max_epochs} would be {self.max_epochs * steps_per_epoch}"
        return f"trainer.max_epochs={self.max_epochs}"

    @torch.no_grad()
    def expected_seconds(self, model: nn.Module, optimizer, train_loader, val_loader, steps: int, epochs: int) -> tuple[float, float]:
        """(training, validation) seconds the rest of the run should take, from timing a few steps and a
        val batch on a copy of the model: the run's weights, optimizer state and RNG streams are untouched."""
        probe = copy.deepcopy(model).to(self.device)
        opt = optimizer(param_groups(probe))
        scaler = torch.amp.GradScaler(self.device.type, enabled=False)
        rng = rng_state()
        batches = iter(train_loader)
        times = []
        for _ in range(4):  # the first step warms up allocators and kernels; the next three are timed
            batch = next(batches, None)
            if batch is None:
                break
            batch = batch.to(self.device)
            start = time.perf_counter()
            with torch.enable_grad():
                probe.train()
                self.train_step(probe, batch, opt, scaler)
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        probe.eval()
        val_time = 0.0
        val_batch = next(iter(val_loader), None)  # a rank may have no val batch (every clip is scored once)
        if val_batch is not None:
            val_batch = val_batch.to(self.device)
            start = time.perf_counter()
            with self._autocast():
                probe(val_batch.x, val_batch.pad_mask, val_batch.lengths)
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            val_time = (time.perf_counter() - start) * len(val_loader) * epochs
        set_rng_state(rng)
        step_time = sum(times[1:]) / max(1, len(times) - 1) if len(times) > 1 else (times[0] if times else 0.0)
        return step_time * steps, val_time

    def _reduce(self, totals: torch.Tensor, seen: int) -> int:
        """Sum running totals (in place) and the clip count over ranks."""
        if not self.dist.enabled:
            return seen
        count = totals.new_tensor([float(seen)])
        self.dist.sum(totals)
        return int(self.dist.sum(count).item())

    def _check_finite(self, first_bad: torch.Tensor, epoch: int) -> None:
        step = int(self.dist.max(first_bad.clone()).item())  # every rank stops together
        if step >= 0:
            raise TrainingDiverged(
                f"non-finite loss at epoch {epoch}, step {step}; training stopped and the last good checkpoint "
                f"({'epoch ' + str(epoch - 1) if epoch > 1 else 'none yet'}) is kept. "
                "Lower optim.lr, set trainer.grad_clip, or check the data for extreme values"
            )

    @torch.no_grad()
    def evaluate(self, model, loader, progress: Progress, label: str, limit: int | None = None) -> dict[str, float]:
        """Loss and top-1 accuracies over ``loader`` (every clip counted once)."""
        model.eval()
        totals = torch.zeros(3, device=self.device)
        seen = 0
        for _, batch in self._batches(loader, limit, progress, label):
            with self._autocast():
                logits = model(batch.x, batch.pad_mask, batch.lengths)
            self._tally(totals, self.loss(logits, batch), logits, batch)
            seen += len(batch)
        return self._means(totals, self._reduce(totals, seen))

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            transient=True,
            disable=not self.progress or not self.dist.is_main,
        )

    # ----------------------------------------------------------------------- the loop
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
        self.dist = dist or Distributed()
        data.setup()
        # Normalised once up front (deterministic); batches are only augmented from here on.
        train_clips, val_clips = (transform.prepare(data.split(s)) if transform else data.split(s) for s in ("train", "val"))
        model_name = type(model).__name__
        resumed = self._resume_checkpoint(run, model_name) if self.resume else None
        if resumed is not None:
            self._load_weights(model, resumed)
        else:  # training statistics only: val/test stay unseen
            self.fit_input_norm(model, train_clips, transform, data.eval_batch_size)
        model.to(self.device)

        train_loader = self.loader(train_clips, data.batch_size, train=True, bucket=data.bucket, transform=transform)
        val_loader = self.loader(val_clips, data.eval_batch_size, train=False, transform=transform)
        steps_per_epoch = len(train_loader) if self.limit_train_batches is None else min(self.limit_train_batches, len(train_loader))
        total_steps = self.total_steps(steps_per_epoch)
        epochs = math.ceil(total_steps / steps_per_epoch)
        opt = optimizer(param_groups(model))
        sched = scheduler(opt, total_steps=total_steps, steps_per_epoch=steps_per_epoch)
        step_sched = None if per_epoch(sched) else sched
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp and self.amp_dtype == torch.float16)
        ema = EMA(model, self.ema) if self.ema else None
        loop = LoopState()
        if resumed is not None:
            opt.load_state_dict(resumed["optimizer"])
            sched.load_state_dict(resumed["scheduler"])
            scaler.load_state_dict(resumed["scaler"])
            loop = LoopState(**resumed["loop"])
            if ema is not None and "train_model" in resumed:  # the averaged weights go on averaging
                ema.load_state_dict(resumed["model"], resumed["ema_updates"])
            set_rng_state(resumed["rng"])
            self._check_can_continue(run, loop, total_steps)
            run.start_resumed_session()
            run.append_missing_metrics(loop.history)
            log.info("resuming %s after epoch %d (step %d of %d)", run.path, loop.epoch, loop.steps, total_steps)

        if transform:
            log.info("transforms: %s", transform)
        step_model = model
        if self.dist.enabled:  # gradients averaged over ranks; evaluation uses the plain model (no collectives)
            step_model = nn.parallel.DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        step_model = torch.compile(step_model, dynamic=True) if self.compile else step_model  # same parameters
        eval_model = ema.module if ema is not None else (model if self.dist.enabled else step_model)
        n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        log.info("run folder: %s", run.path)
        log.info("%s: %.2fM trainable parameters on %s%s%s", model_name, n_params / 1e6, self.device,
                 f", AMP {str(self.amp_dtype)[6:]}" if self.amp else "", f", weights averaged (EMA {self.ema})" if ema else "")  # fmt: skip
        train_s, val_s = self.expected_seconds(model, optimizer, train_loader, val_loader, total_steps - loop.steps, epochs - loop.epoch)
        log.info(
            "length: %d steps (%s; %d epochs of %d steps, batch %d%s); expected time about %s (training %s, validation %s)",
            total_steps, self.length_reason(steps_per_epoch), epochs, steps_per_epoch, data.batch_size,
            "" if self.dist.world_size == 1 else f" on each of {self.dist.world_size} ranks",
            _duration(train_s + val_s), _duration(train_s), _duration(val_s),
        )  # fmt: skip
        run.set_status("running", model=model_name, max_epochs=epochs, total_steps=total_steps, device=str(self.device), signlang_version=__version__)
        base = {
            "model_name": model_name,
            "config": config or {},
            "gloss_names": data.gloss_names,
            "cat_names": data.cat_names,
            "launch_dir": os.getcwd(),  # relative data paths in the config are relative to it
        }

        with InterruptGuard() as guard, self._progress() as progress:
            for epoch in range(loop.epoch + 1, epochs + 1):
                steps = min(steps_per_epoch, total_steps - loop.steps)
                if steps <= 0:
                    break
                start = time.perf_counter()
                lr = opt.param_groups[0]["lr"]
                train_loader.batch_sampler.set_epoch(epoch)
                train = self.train_epoch(step_model, train_loader, opt, step_sched, scaler, progress, epoch, steps, ema)
                loop.steps += steps
                val = self.evaluate(eval_model, val_loader, progress, "val", self.limit_val_batches)
                if step_sched is None:
                    sched.step(val["gloss_acc"])
                row = {
                    "epoch": epoch,
                    "step": loop.steps,
                    **{f"train_{k}": train[k] for k in ("loss", "gloss_acc", "cat_acc")},
                    **{f"val_{k}": v for k, v in val.items()},
                    "lr": lr,
                    "epoch_time_s": round(time.perf_counter() - start, 3),
                    "train_time_s": round(train["time_s"], 3),
                    "data_wait": round(train["data_wait"], 4),
                }
                improved = loop.record(row, self.monitor)
                stop = self.early_stop is not None and loop.stale_epochs >= self.early_stop
                with guard.critical():  # a signal here waits until the run's files are consistent
                    state = {
                        **base,
                        "model": eval_model.state_dict() if ema is not None else model.state_dict(),
                        **({"train_model": model.state_dict(), "ema_updates": ema.updates} if ema is not None else {}),
                        "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(),
                        "scaler": scaler.state_dict(),
                        "epoch": epoch,
                        "best_epoch": loop.best_epoch,
                        "best_metric": loop.best_key[0],
                        "loop": asdict(loop),
                        "rng": rng_state(),
                        "signlang_version": __version__,
                    }
                    if self.dist.is_main:  # one writer; every rank keeps the same state
                        if improved:
                            save_checkpoint(run.checkpoint_path(model_name, "best"), state)
                        save_checkpoint(run.checkpoint_path(model_name, "last"), state)
                    run.append_metrics(row)
                    run.update_summary(epochs_completed=epoch, steps_completed=loop.steps, best_epoch=loop.best_epoch, best=loop.best)
                log.info(
                    "epoch %d/%d  train loss %.4f gloss %.3f cat %.3f | val loss %.4f gloss %.3f cat %.3f | lr %.2e | %.1fs%s",
                    epoch, epochs, train["loss"], train["gloss_acc"], train["cat_acc"],
                    val["loss"], val["gloss_acc"], val["cat_acc"], lr, row["epoch_time_s"],
                    "  * best" if improved else "",
                )  # fmt: skip
                if stop:
                    log.info("early stop: %s has not improved for %d epochs (trainer.early_stop)", self.monitor, loop.stale_epochs)
                    run.update_summary(early_stopped={"epoch": epoch, "patience": self.early_stop})
                    break
        log.info("trained: best epoch %d (%s), val gloss %.3f cat %.3f", loop.best_epoch, self.monitor, loop.best["val_gloss_acc"], loop.best["val_cat_acc"])
        return run.update_summary(epochs_completed=loop.epoch, steps_completed=loop.steps, best_epoch=loop.best_epoch, best=loop.best)

    def _resume_checkpoint(self, run: RunFolder, model_name: str) -> dict[str, Any]:
        """The checkpoint named by ``trainer.resume`` (a run folder means its ``_last.pt``), checked."""
        target = Path(str(self.resume))
        path = run.checkpoint_path(model_name, "last") if target.is_dir() else target
        if not path.is_file():
            found = sorted(p.name for p in (run.path / "checkpoints").glob("*_last.pt"))
            raise ConfigError(
                f"trainer.resume={self.resume}: no {path.name} to resume from"
                + (f" (this run folder holds {', '.join(found)}: a checkpoint from a different model)" if found else "")
            )
        state = load_checkpoint(path, map_location=self.device)
        if state.get("model_name") != model_name or "loop" not in state:
            raise ConfigError(f"{path} holds a {state.get('model_name', 'non-resumable')} checkpoint, not {model_name}; resume the run it came from")
        done = run.recorded_epochs()
        if done and state["epoch"] < max(done):
            raise ConfigError(
                f"{path} is from epoch {state['epoch']}, but {run.metrics_path} already records epoch {max(done)}; "
                "resume from the run folder (its _last.pt) so no epoch is recorded twice"
            )
        return state

    @staticmethod
    def _check_can_continue(run: RunFolder, loop: LoopState, total_steps: int) -> None:
        if loop.steps >= total_steps and run.previous_status == "finished":
            raise ConfigError(
                f"the run already trained {loop.steps} steps ({loop.epoch} epochs), its full length; "
                "raise trainer.max_epochs (or trainer.max_steps / trainer.min_steps) to continue it"
            )

    @staticmethod
    def _load_weights(model: nn.Module, state: dict[str, Any]) -> None:
        """The weights training continues from: the raw ones when the checkpoint also holds averaged (EMA) ones."""
        try:
            model.load_state_dict(state.get("train_model", state["model"]))
        except RuntimeError as e:
            first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
            raise ConfigError(f"the checkpoint does not fit this model ({first}); resume with the run's own model settings") from None


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"

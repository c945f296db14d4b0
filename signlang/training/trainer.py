"""One readable training loop: train an epoch, validate, record the epoch, repeat.

``conf/trainer/*.yaml`` instantiates :class:`Trainer` (the loop's own settings: length, device,
precision, loss, clipping) and ``conf/callbacks`` what happens around it (the best epoch, weight
averaging, early stopping, the NaN check, the console: ``callbacks.py``). ``run.py`` hands
:meth:`Trainer.fit` the model, the data, the optimizer and scheduler partials and the run folder.
The data batches itself (``ClipData.for_training``) and ``resume.py`` continues a run; what is
left here is the loop.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import Optimizer

from signlang import __version__
from signlang.core.errors import ConfigError
from signlang.core.layout import DATA_FOR_KIND, KIND_DESCRIPTIONS
from signlang.data.clips import Batch
from signlang.data.module import ClipData
from signlang.models.input_norm import fit_input_norm
from signlang.models.layers import Mix
from signlang.runs.folder import RunFolder
from signlang.runs.record import METRIC_COLUMNS
from signlang.training import resume
from signlang.training.distributed import Distributed
from signlang.training.fit import Callback, Fit
from signlang.training.optim import param_groups
from signlang.training.runtime import resolve_device
from signlang.training.schedulers import per_epoch
from signlang.training.signals import InterruptGuard

log = logging.getLogger(__name__)

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# trainer.compile: torch.compile's mode (true = "default"); reduce-overhead captures CUDA graphs, one
# per input shape, so it wants static shapes (data.pad_to) and compiles without dynamic shapes.
COMPILE_MODES = (False, True, "default", "reduce-overhead", "max-autotune")


def check_model_mixes(model: nn.Module, mixup: float) -> None:
    """Refuse ``trainer.mixup`` for a model whose forward cannot blend clips (takes no ``mix``)."""
    if mixup and "mix" not in inspect.signature(model.forward).parameters:
        raise ConfigError(
            f"trainer.mixup blends clips inside the model, and {type(model).__name__} cannot: set trainer.mixup=0"
        )


def check_model_fits_data(model: nn.Module, data: ClipData) -> None:
    """Refuse before training when the model reads another kind of input than the data provides."""
    need, have = model.input_kind, data.kind
    if need != have:
        raise ConfigError(
            f"{type(model).__name__} reads {KIND_DESCRIPTIONS[need]}, but this data provides "
            f"{KIND_DESCRIPTIONS[have]}: use {DATA_FOR_KIND[need]}"
        )


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _positive_int_or_none(key: str, value: Any) -> None:
    _check(
        value is None or (isinstance(value, int) and value >= 1),
        f"trainer.{key} must be an integer >= 1 or null, got {value!r}",
    )


class Trainer:
    """Fits a two-head model (gloss, category) and keeps the run folder up to date after every epoch.

    The run's length is ``max_steps`` optimizer steps when set, else ``max_epochs`` epochs when set;
    with neither (the usual case: a recipe decides), ``default_epochs`` epochs but at least
    ``default_min_steps`` steps, so small datasets still get enough updates.
    """

    def __init__(
        self,
        max_epochs: int | None = None,
        max_steps: int | None = None,
        default_epochs: int = 10,
        default_min_steps: int | None = None,
        seed: int = 0,
        device: str = "auto",
        deterministic: bool = False,
        amp: bool = False,
        amp_dtype: str = "auto",
        compile: bool | str = False,
        gloss_weight: float = 0.5,
        cat_weight: float = 0.5,
        label_smoothing: float = 0.0,
        mixup: float = 0.0,
        grad_clip: float | None = None,
        limit_train_batches: int | None = None,
        limit_val_batches: int | None = None,
        resume: str | None = None,
        callbacks: list[Callback] | None = None,
    ) -> None:
        for key, value in (
            ("max_epochs", max_epochs),
            ("max_steps", max_steps),
            ("default_epochs", default_epochs),
            ("default_min_steps", default_min_steps),
            ("limit_train_batches", limit_train_batches),
            ("limit_val_batches", limit_val_batches),
        ):
            _positive_int_or_none(key, value)
        _check(
            gloss_weight >= 0 and cat_weight >= 0 and gloss_weight + cat_weight > 0,
            "trainer.gloss_weight and trainer.cat_weight must be >= 0 and not both 0",
        )
        _check(0.0 <= label_smoothing < 1.0, f"trainer.label_smoothing must be in [0, 1), got {label_smoothing}")
        _check(mixup >= 0.0, f"trainer.mixup is the Beta(a, a) of the blend weight: a >= 0 (0 = off), got {mixup}")
        _check(grad_clip is None or grad_clip > 0, f"trainer.grad_clip must be > 0 or null, got {grad_clip}")
        _check(
            compile in COMPILE_MODES,
            f"trainer.compile must be one of {', '.join(map(str, COMPILE_MODES))}, got {compile!r}",
        )
        _check(amp_dtype in ("auto", *AMP_DTYPES), f"trainer.amp_dtype must be auto, bf16 or fp16, got {amp_dtype!r}")
        self.device = resolve_device(device)
        self.amp = bool(amp) and self.device.type == "cuda"
        if amp and not self.amp:
            log.warning("trainer.amp=true needs CUDA; training on %s in float32 instead", self.device)
        if amp_dtype == "auto":
            amp_dtype = "bf16" if self.amp and torch.cuda.is_bf16_supported() else "fp16"
        self.amp_dtype = AMP_DTYPES[amp_dtype]
        self.max_epochs, self.max_steps = max_epochs, max_steps
        self.default_epochs, self.default_min_steps = default_epochs, default_min_steps
        self.seed, self.deterministic, self.compile = seed, deterministic, compile
        self.gloss_weight, self.cat_weight = gloss_weight, cat_weight
        self.label_smoothing, self.mixup, self.grad_clip = label_smoothing, mixup, grad_clip
        self.limit_train_batches, self.limit_val_batches = limit_train_batches, limit_val_batches
        self.resume = resume
        self.callbacks = sorted(callbacks or [], key=lambda c: c.order)

    # ------------------------------------------------------------------------------ the run's length
    def total_steps(self, steps_per_epoch: int) -> int:
        if self.max_steps is not None:
            return self.max_steps
        if self.max_epochs is not None:
            return self.max_epochs * steps_per_epoch
        return max(self.default_epochs * steps_per_epoch, self.default_min_steps or 0)

    def length_reason(self, steps_per_epoch: int) -> str:
        """Which setting decided the run's length, for the log."""
        if self.max_steps is not None:
            return f"trainer.max_steps={self.max_steps}"
        if self.max_epochs is not None:
            return f"trainer.max_epochs={self.max_epochs}"
        epochs = self.default_epochs * steps_per_epoch
        if (self.default_min_steps or 0) > epochs:
            would = f"trainer.default_epochs={self.default_epochs} would be {epochs}"
            return f"trainer.default_min_steps={self.default_min_steps}: {would}"
        return f"trainer.default_epochs={self.default_epochs}"

    # --------------------------------------------------------------------- a step and an evaluation
    def loss(self, logits: tuple[torch.Tensor, torch.Tensor], batch: Batch) -> torch.Tensor:
        """The weighted cross-entropies of both heads. Logits with a leading members axis ``[K,B,C]``
        (``SignEnsemble`` in training) give each member its own loss, averaged."""
        gloss_logits, cat_logits = (t.float() for t in logits)
        if gloss_logits.dim() == 3:
            members = gloss_logits.shape[0]
            gloss_logits, cat_logits = gloss_logits.flatten(0, 1), cat_logits.flatten(0, 1)
            batch = dataclasses.replace(batch, gloss=batch.gloss.repeat(members), cat=batch.cat.repeat(members))
        gloss = F.cross_entropy(gloss_logits, batch.gloss, label_smoothing=self.label_smoothing)
        if cat_logits.shape[1] == 1:  # one category (data.num_cat=1): its cross-entropy is 0, so skip it
            return self.gloss_weight * gloss
        return self.gloss_weight * gloss + self.cat_weight * F.cross_entropy(
            cat_logits, batch.cat, label_smoothing=self.label_smoothing
        )

    def draw_mix(self, size: int) -> Mix | None:
        """This step's mixup (``trainer.mixup`` > 0): a blend weight from Beta(a, a) and a partner for
        every clip, from torch's generator (seeded, and saved for resumes); None when off."""
        if not self.mixup or size < 2:
            return None
        lam = float(torch.distributions.Beta(self.mixup, self.mixup).sample())
        return Mix(partner=torch.randperm(size).to(self.device), lam=lam)

    def mixed_loss(self, logits: tuple[torch.Tensor, torch.Tensor], batch: Batch, mix: Mix | None) -> torch.Tensor:
        """The loss of blended clips: their own labels' loss and their partners', weighted as the clips were."""
        if mix is None:
            return self.loss(logits, batch)
        partners = dataclasses.replace(batch, gloss=batch.gloss[mix.partner], cat=batch.cat[mix.partner])
        return mix.lam * self.loss(logits, batch) + (1.0 - mix.lam) * self.loss(logits, partners)

    def autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype, enabled=self.amp)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Loss scaling, on only for fp16 autocast (bf16 and float32 need none)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp and self.amp_dtype == torch.float16)

    def train_step(
        self, model, batch: Batch, optimizer, scaler
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One forward, backward and optimizer step (also what ``python -m signlang.bench`` times);
        returns the loss and logits, still on the device. With ``trainer.mixup`` the clips are blended
        inside the model (``signlang.models.layers.mix_frames``) and the loss with them."""
        mix = self.draw_mix(len(batch))
        with self.autocast():
            logits = model(batch.x, batch.pad_mask, batch.lengths, **({} if mix is None else {"mix": mix}))
            loss = self.mixed_loss(logits, batch, mix)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if self.grad_clip is not None:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        return loss, logits

    def _batches(self, loader, limit: int | None, clock: dict | None = None):
        """At most ``limit`` batches moved to the device; ``clock["wait"]`` sums the time spent waiting for them."""
        batches = iter(loader)
        for _ in range(len(loader) if limit is None else min(limit, len(loader))):
            start = time.perf_counter()
            batch = next(batches).to(self.device, non_blocking=getattr(loader, "pin_memory", False))
            if clock is not None:
                clock["wait"] += time.perf_counter() - start
            yield batch
            del batch  # not kept alive into the next wait (freeing a large batch is not waiting for data)

    @staticmethod
    def _tally(totals: torch.Tensor, loss: torch.Tensor, logits, batch: Batch) -> None:
        """Add a batch's loss and correct counts to running sums kept on the device (no host sync)."""
        gloss, cat = (t.mean(0) if t.dim() == 3 else t for t in logits)  # an ensemble in training: its mean
        hits = [(gloss.argmax(1) == batch.gloss).sum(), (cat.argmax(1) == batch.cat).sum()]
        totals += torch.stack([loss.detach().float() * len(batch), *hits])

    @staticmethod
    def _means(totals: torch.Tensor, seen: int, dist: Distributed) -> dict[str, float]:
        n = dist.sum_counts(totals, seen)  # over all ranks
        loss_sum, gloss_ok, cat_ok = totals.tolist()
        return {"loss": loss_sum / n, "gloss_acc": gloss_ok / n, "cat_acc": cat_ok / n}

    def train_epoch(self, fit: Fit, epoch: int, steps: int) -> dict[str, float]:
        """``steps`` optimizer steps over the epoch's training batches (fewer than a full pass at the end
        of a run whose length is set in steps); a per-step scheduler steps after each. Also returns the
        epoch's time and the share of it spent waiting for data."""
        fit.data.train.batch_sampler.set_epoch(epoch)
        fit.step_model.train()
        scheduler = None if per_epoch(fit.scheduler) else fit.scheduler
        totals, seen, clock = torch.zeros(3, device=self.device), 0, {"wait": 0.0}
        fit.call("on_train_epoch_start", epoch, steps)
        start = time.perf_counter()
        for step, batch in enumerate(self._batches(fit.data.train, steps, clock), start=1):
            loss, logits = self.train_step(fit.step_model, batch, fit.optimizer, fit.scaler)
            if scheduler is not None:
                scheduler.step()
            seen += len(batch)
            self._tally(totals, loss, logits, batch)
            fit.call("on_train_step", step, loss)
        fit.call("on_train_epoch_end", epoch)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        return {
            **self._means(totals, seen, fit.dist),
            "time_s": elapsed,
            "data_wait": clock["wait"] / max(elapsed, 1e-9),
        }

    @torch.no_grad()
    def evaluate(
        self, model: nn.Module, loader, dist: Distributed, limit: int | None = None, fit: Fit | None = None
    ) -> dict[str, float]:
        """Loss and top-1 accuracies over ``loader`` (every clip counted once, over all ranks)."""
        model.eval()
        totals, seen = torch.zeros(3, device=self.device), 0
        for batch in self._batches(loader, limit):
            with self.autocast():
                logits = model(batch.x, batch.pad_mask, batch.lengths)
            self._tally(totals, self.loss(logits, batch), logits, batch)
            seen += len(batch)
            if fit is not None:
                fit.call("on_validation_batch")
        return self._means(totals, seen, dist)

    # ------------------------------------------------------------------------------------ the loop
    def prepare(
        self,
        model: nn.Module,
        data: ClipData,
        optimizer: Callable[..., Optimizer],
        scheduler: Callable[..., Any],
        run: RunFolder,
        config: dict[str, Any] | None = None,
        dist: Distributed | None = None,
    ) -> Fit:
        """Everything the loop works on: loaders and input statistics from the data (asked once), the
        optimizer and schedule over the run's length, the callbacks set up and, with
        ``trainer.resume``, the run's state restored (``resume.py``)."""
        dist = dist or Distributed()
        check_model_fits_data(model, data)
        check_model_mixes(model, self.mixup)
        batches = data.for_training(
            run.path, write=run.writer, seed=self.seed, device=self.device, rank=dist.rank, world_size=dist.world_size
        )
        resumed = resume.load(run, type(model).__name__, self.resume, self.device) if self.resume else None
        if resumed is None:
            fit_input_norm(model, batches.statistics())  # training statistics only, before the first step
        else:
            resume.load_weights(model, resumed)
        model.to(self.device)
        steps_per_epoch = min(len(batches.train), self.limit_train_batches or len(batches.train))
        total = self.total_steps(steps_per_epoch)
        opt = optimizer(param_groups(model))
        meta = {
            "model_name": type(model).__name__,
            "config": config or {},
            "gloss_names": batches.gloss_names,
            "cat_names": batches.cat_names,
            "extraction": batches.extraction,  # how signlang predict reads a video
            "launch_dir": os.getcwd(),  # relative data paths in the config are relative to it
        }
        fit = Fit(
            trainer=self,
            model=model,
            model_name=type(model).__name__,
            data=batches,
            run=run,
            dist=dist,
            make_optimizer=optimizer,
            optimizer=opt,
            scheduler=scheduler(opt, total_steps=total, steps_per_epoch=steps_per_epoch),
            scaler=self.grad_scaler(),
            steps_per_epoch=steps_per_epoch,
            total_steps=total,
            epochs=math.ceil(total / steps_per_epoch),
            callbacks=self.callbacks,
            meta=meta,
            eval_model=model,
        )
        if batches.val_seen and per_epoch(fit.scheduler):
            raise ConfigError("data.train_on_val trains on val, so val accuracy cannot drive scheduler=plateau")
        fit.call("setup")
        if resumed is not None:
            resume.restore(fit, resumed)
        fit.step_model = self.wrap(model, dist)
        return fit

    def fit(
        self,
        model: nn.Module,
        data: ClipData,
        optimizer: Callable[..., Optimizer],
        scheduler: Callable[..., Any],
        run: RunFolder,
        config: dict[str, Any] | None = None,
        dist: Distributed | None = None,
    ) -> dict[str, Any]:
        """Train for the run's length or until a callback stops it; returns the summary (the run is still
        ``running``: evaluating the best checkpoint comes next, see ``signlang.evaluation``)."""
        fit = self.prepare(model, data, optimizer, scheduler, run, config, dist)
        run.set_status(
            "running",
            model=fit.model_name,
            max_epochs=fit.epochs,
            total_steps=fit.total_steps,
            device=str(self.device),
            signlang_version=__version__,
            val_seen=fit.data.val_seen,  # data.train_on_val: val numbers are on clips it trained on
        )
        with InterruptGuard() as guard:
            try:
                fit.call("on_fit_start")
                for epoch in range(fit.loop.epoch + 1, fit.epochs + 1):
                    self.run_epoch(fit, epoch, guard)
                    if fit.stop:
                        break
                fit.call("on_fit_end")
            finally:
                fit.call("teardown")
        return run.update_summary(epochs_completed=fit.loop.epoch, steps_completed=fit.loop.steps, **fit.summary)

    def run_epoch(self, fit: Fit, epoch: int, guard: InterruptGuard) -> None:
        """Train, validate, and record the epoch: its row, its checkpoint, the summary."""
        start, lr = time.perf_counter(), fit.optimizer.param_groups[0]["lr"]
        steps = min(fit.steps_per_epoch, fit.total_steps - fit.loop.steps)
        train = self.train_epoch(fit, epoch, steps)
        val = self.evaluate(fit.validated, fit.data.val, fit.dist, self.limit_val_batches, fit)
        if per_epoch(fit.scheduler):
            fit.scheduler.step(val["gloss_acc"])
        values = {
            "epoch": epoch,
            "step": fit.loop.steps + steps,
            **{f"train_{k}": train[k] for k in ("loss", "gloss_acc", "cat_acc")},
            **{f"val_{k}": v for k, v in val.items()},
            "lr": lr,
            "epoch_time_s": round(time.perf_counter() - start, 3),
            "train_time_s": round(train["time_s"], 3),
            "data_wait": round(train["data_wait"], 4),
        }
        row = {k: values[k] for k in METRIC_COLUMNS}
        fit.loop.record(row)
        fit.improved = False
        with guard.critical():  # a signal here waits until the run's files are consistent
            fit.call("on_epoch_end", row)
            fit.run.save_checkpoints(fit.model_name, fit.state(), best=fit.improved)
            fit.run.append_metrics(row)
            fit.run.update_summary(epochs_completed=epoch, steps_completed=fit.loop.steps, **fit.summary)

    def wrap(self, model: nn.Module, dist: Distributed) -> nn.Module:
        """The model the steps run on: DDP-wrapped under torchrun, compiled with trainer.compile (same parameters)."""
        step_model = model
        if dist.enabled:  # gradients averaged over ranks
            ids = [self.device.index] if self.device.type == "cuda" else None
            step_model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if self.compile:
            mode = "default" if self.compile is True else self.compile
            step_model = torch.compile(step_model, mode=mode, dynamic=mode != "reduce-overhead")
        return step_model

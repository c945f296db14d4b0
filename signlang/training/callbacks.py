"""What happens around the training loop, one small class each (``conf/callbacks``).

    callbacks.checkpoint.monitor=val_loss       pick the best epoch by val loss
    callbacks=[default,early_stopping]          add one (callbacks.early_stopping.patience=10)
    callbacks.ema=null                          drop one (or ~callbacks.ema)

The trainer calls every callback's hooks in ``order`` (lower first) and gives each the :class:`Fit`
in progress. A callback's ``state_dict`` travels in every checkpoint, so a resumed run continues
with exactly the state an uninterrupted one would have had.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import torch
from hydra.utils import instantiate
from torch import nn

from signlang.core.console import duration, progress_bar
from signlang.core.errors import ConfigError, SignlangError
from signlang.data.labels import has_categories
from signlang.models.rejection import DEFAULT_FALSE_REJECT, DEFAULT_SCORE, SCORES, calibrate, check_rates, infer
from signlang.runs.checkpoints import load_checkpoint
from signlang.training.estimate import expected_seconds
from signlang.training.fit import Callback, Fit

log = logging.getLogger(__name__)

# Which epoch is "best" by a monitored quantity: keys compare as lists, larger is better.
MONITORS: dict[str, Callable[[dict[str, Any]], list[float]]] = {
    "val_gloss_acc": lambda row: [row["val_gloss_acc"], -row["val_loss"]],  # ties: lower val loss
    "val_loss": lambda row: [-row["val_loss"], row["val_gloss_acc"]],
    "last": lambda row: [row["epoch"]],  # the end of the schedule (with the ema callback: the averaged weights)
}


class TrainingDiverged(SignlangError):
    """The loss became NaN or infinite."""


def check_monitor(monitor: str, where: str) -> str:
    if monitor not in MONITORS:
        raise ConfigError(f"{where} must be one of {', '.join(MONITORS)}, got {monitor!r}")
    return monitor


class Checkpoint(Callback):
    """Which epoch's weights ``checkpoints/<Model>_best.pt`` keeps: the best by ``monitor``
    (``val_gloss_acc``, ``val_loss`` or ``last``). It is what training's final report, ``signlang
    evaluate`` and ``predict`` use, and its val numbers are the run's ``best`` in summary.json.
    (``<Model>_last.pt`` is written after every epoch whatever the callbacks: resuming needs it.)"""

    order = 20

    def __init__(self, monitor: str = "val_gloss_acc") -> None:
        self.monitor = check_monitor(monitor, "callbacks.checkpoint.monitor")
        self.best_key: list[float] | None = None
        self.best_epoch: int | None = None
        self.best: dict[str, float] = {}

    def setup(self, fit: Fit) -> None:
        if fit.data.val_seen and self.monitor != "last":
            raise ConfigError(
                f"data.train_on_val trains on val, so val cannot choose the checkpoint "
                f"(callbacks.checkpoint.monitor={self.monitor}): set callbacks.checkpoint.monitor=last"
            )

    def on_epoch_end(self, fit: Fit, row: dict[str, Any]) -> None:
        key = MONITORS[self.monitor](row)
        if self.best_key is None or key > self.best_key:
            self.best_key, self.best_epoch = key, row["epoch"]
            keys = ("val_loss", "val_gloss_acc", "val_cat_acc")[: 3 if has_categories(fit.data.cat_names) else 2]
            self.best = {k: row[k] for k in keys}
            fit.improved = True
        fit.summary.update(best_epoch=self.best_epoch, best=self.best)

    def state_dict(self) -> dict[str, Any]:
        return {"best_key": self.best_key, "best_epoch": self.best_epoch, "best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_key, self.best_epoch, self.best = state["best_key"], state["best_epoch"], state["best"]


class EarlyStopping(Callback):
    """End training when ``monitor`` has not improved for ``patience`` epochs (summary.json says so)."""

    order = 30

    def __init__(self, patience: int, monitor: str = "val_gloss_acc") -> None:
        if not isinstance(patience, int) or patience < 1:
            raise ConfigError(f"callbacks.early_stopping.patience must be an integer >= 1, got {patience!r}")
        self.patience = patience
        self.monitor = check_monitor(monitor, "callbacks.early_stopping.monitor")
        self.best_key: list[float] | None = None
        self.stale = 0

    def setup(self, fit: Fit) -> None:
        if fit.data.val_seen:
            raise ConfigError(
                "data.train_on_val trains on val, so val cannot say when to stop: drop callbacks.early_stopping "
                "and set the length (trainer.max_epochs or trainer.max_steps)"
            )

    def on_epoch_end(self, fit: Fit, row: dict[str, Any]) -> None:
        key = MONITORS[self.monitor](row)
        if self.best_key is None or key > self.best_key:
            self.best_key, self.stale = key, 0
            return
        self.stale += 1
        if self.stale >= self.patience:
            fit.stop = f"early stop: {self.monitor} has not improved for {self.stale} epochs (callbacks.early_stopping)"
            fit.summary["early_stopped"] = {"epoch": row["epoch"], "patience": self.patience}

    def state_dict(self) -> dict[str, Any]:
        return {"best_key": self.best_key, "stale": self.stale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_key, self.stale = state["best_key"], state["stale"]


class WeightAveraging(Callback):
    """An exponential moving average of the weights: ``avg = d * avg + (1 - d) * weights`` after every
    optimizer step, with ``d`` ramped up as ``min(decay, (1 + n) / (10 + n))`` so the first steps do not
    drag in the random initialisation.

    Averaged weights are a cheap ensemble of the last few thousand steps: smoother val curves (so
    the best-epoch rule is not fooled by one lucky epoch) and, on small data, usually better
    accuracy than the raw weights at any single step. The average is what validation scores and what
    checkpoints hold under ``model`` (so evaluation and prediction use it); the raw weights travel
    beside it (``train_model``) for resuming. Integer buffers (InputNorm's ``fitted``) follow the model.
    """

    order = 0

    def __init__(self, decay: float = 0.999) -> None:
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"callbacks.ema.decay must be in (0, 1) (e.g. 0.999), got {decay}")
        self.decay = decay
        self.updates = 0
        self.average: nn.Module | None = None

    def setup(self, fit: Fit) -> None:
        self.average = copy.deepcopy(fit.model).eval().requires_grad_(False)
        pairs = list(zip(self.average.state_dict().values(), fit.model.state_dict().values()))
        self._float = [(a, m) for a, m in pairs if a.dtype.is_floating_point]
        self._other = [(a, m) for a, m in pairs if not a.dtype.is_floating_point]
        fit.eval_model = self.average

    @torch.no_grad()
    def on_train_step(self, fit: Fit, step: int, loss: torch.Tensor) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        averaged, current = zip(*self._float)
        torch._foreach_lerp_(list(averaged), list(current), 1.0 - d)
        for a, m in self._other:
            a.copy_(m)

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates}  # the averaged weights themselves are the checkpoint's "model"

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = state["updates"]


class FiniteLoss(Callback):
    """Stop with one message at the first NaN or infinite loss, naming the epoch and step; the last
    good checkpoint is kept. The check reads the device every ``check_every`` steps and at the end of
    each epoch (the loss stays on the GPU in between), and every rank stops together."""

    order = 10

    def __init__(self, check_every: int = 10) -> None:
        self.check_every = max(1, int(check_every))
        self.first_bad: torch.Tensor | None = None

    def on_train_epoch_start(self, fit: Fit, epoch: int, steps: int) -> None:
        self.first_bad = torch.tensor(-1, device=fit.trainer.device)

    def on_train_step(self, fit: Fit, step: int, loss: torch.Tensor) -> None:
        self.first_bad = torch.where((self.first_bad < 0) & ~torch.isfinite(loss.detach()), step, self.first_bad)
        if step % self.check_every == 0:
            self._check(fit)

    def on_train_epoch_end(self, fit: Fit, epoch: int) -> None:
        self._check(fit)

    def _check(self, fit: Fit) -> None:
        step = int(fit.dist.max(self.first_bad.clone()).item())
        if step >= 0:
            epoch = fit.loop.epoch + 1
            raise TrainingDiverged(
                f"non-finite loss at epoch {epoch}, step {step}; training stopped and the last good checkpoint "
                f"({'epoch ' + str(epoch - 1) if epoch > 1 else 'none yet'}) is kept. "
                "Lower optim.lr, set trainer.grad_clip, or check the data for extreme values"
            )


class Console(Callback):
    """What the console shows: the run's set-up and expected time before training, a progress bar
    per epoch and validation pass (refreshed every ``refresh_every`` steps), one line per epoch, and
    after the first epoch the time left at its pace. The expected time times a few steps on a copy of
    the model, each the first of its shape in the process: on one day it said 47.9 min for the
    WLASL100 preset's 29.5 (on others within 5 %); the first epoch is the run itself."""

    order = 90

    def __init__(self, progress: bool = True, refresh_every: int = 10, estimate: bool = True) -> None:
        self.progress_enabled = bool(progress)
        self.refresh_every = max(1, int(refresh_every))
        self.estimate = bool(estimate)
        self.progress = None
        self.task = None
        self.paced = False

    def on_fit_start(self, fit: Fit) -> None:
        trainer, model = fit.trainer, fit.model
        self.paced = False
        log.info("%s", fit.data.description)
        log.info("run folder: %s", fit.run.path)
        params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        extras = [
            f"AMP {str(trainer.amp_dtype)[6:]}" if trainer.amp else "",
            *(type(c).__name__ for c in fit.callbacks),
        ]
        log.info(
            "%s: %.2fM trainable parameters on %s; callbacks: %s",
            fit.model_name,
            params / 1e6,
            trainer.device,
            ", ".join(e for e in extras if e),
        )
        steps_left, epochs_left = fit.total_steps - fit.loop.steps, fit.epochs - fit.loop.epoch
        ranks = "" if fit.dist.world_size == 1 else f" on each of {fit.dist.world_size} ranks"
        length = (
            f"length: {fit.total_steps} steps ({trainer.length_reason(fit.steps_per_epoch)}; {fit.epochs} epochs "
            f"of {fit.steps_per_epoch} steps, batch {fit.data.batch_size}{ranks})"
        )
        if self.estimate:
            train_s, val_s = expected_seconds(fit, steps_left, epochs_left)
            left = f" for the {steps_left} steps left" if fit.loop.steps else ""
            length += f"; expected time{left} about {duration(train_s + val_s)}"
            length += f" (training {duration(train_s)}, validation {duration(val_s)})"
        log.info("%s", length)
        self.progress = progress_bar(self.progress_enabled and fit.dist.is_main)
        self.progress.start()

    def on_train_epoch_start(self, fit: Fit, epoch: int, steps: int) -> None:
        self.task = self.progress.add_task(f"epoch {epoch}", total=steps, status="")
        self.loss_sum, self.seen = torch.zeros((), device=fit.trainer.device), 0

    def on_train_step(self, fit: Fit, step: int, loss: torch.Tensor) -> None:
        self.progress.advance(self.task)
        if self.progress_enabled:
            self.loss_sum += loss.detach().float()
            self.seen += 1
            if step % self.refresh_every == 0:  # a host sync: only every few steps
                self.progress.update(self.task, status=f"loss {self.loss_sum.item() / self.seen:.4f}")

    def on_train_epoch_end(self, fit: Fit, epoch: int) -> None:
        self.progress.remove_task(self.task)
        self.task = self.progress.add_task("val", total=len(fit.data.val), status="")

    def on_validation_batch(self, fit: Fit) -> None:
        self.progress.advance(self.task)

    def on_epoch_end(self, fit: Fit, row: dict[str, Any]) -> None:
        self.progress.remove_task(self.task)
        cats = has_categories(fit.data.cat_names)
        train_cat = f" cat {row['train_cat_acc']:.3f}" if cats else ""
        val_cat = f" cat {row['val_cat_acc']:.3f}" if cats else ""
        log.info(
            "epoch %d/%d  train loss %.4f gloss %.3f%s | val loss %.4f gloss %.3f%s | lr %.2e | %.1fs%s",
            row["epoch"],
            fit.epochs,
            row["train_loss"],
            row["train_gloss_acc"],
            train_cat,
            row["val_loss"],
            row["val_gloss_acc"],
            val_cat,
            row["lr"],
            row["epoch_time_s"],
            "  * best" if fit.improved else "",
        )
        left = fit.epochs - row["epoch"]
        if self.estimate and not self.paced and left > 0 and not fit.stop:
            self.paced = True  # once per fit: the first epoch it trained (a resume's too)
            log.info(
                "at this epoch's pace the rest of the run takes about %s (%d more of %.1fs)",
                duration(left * row["epoch_time_s"]),
                left,
                row["epoch_time_s"],
            )
        if fit.stop:
            log.info("%s", fit.stop)

    def teardown(self, fit: Fit) -> None:
        if self.progress is not None:
            self.progress.stop()

    def on_fit_end(self, fit: Fit) -> None:
        best = fit.summary.get("best")
        if best:
            cat = f" cat {best['val_cat_acc']:.3f}" if has_categories(fit.data.cat_names) else ""
            log.info("trained: best epoch %d, val gloss %.3f%s", fit.summary["best_epoch"], best["val_gloss_acc"], cat)


class Rejection(Callback):
    """ "Not a sign I know" (``signlang.models.rejection``): when training ends, the best and last
    checkpoints each get a rejection score with its threshold, chosen on val for a false-reject rate,
    so ``signlang predict``, streams and the app answer ``unknown`` for a clip unlike every training
    gloss. (``signlang calibrate RUN --unknown DIR`` chooses it again for a false-accept rate on
    clips of signs outside the vocabulary.)"""

    order = 90  # after the checkpoint callback: the best epoch is settled

    def __init__(self, score: str = DEFAULT_SCORE, false_reject: float = DEFAULT_FALSE_REJECT, k: int = 1) -> None:
        if score not in SCORES:
            raise ConfigError(f"callbacks.rejection.score must be one of {', '.join(SCORES)}, got {score!r}")
        check_rates(false_reject, None)
        if not isinstance(k, int) or k < 1:
            raise ConfigError(f"callbacks.rejection.k must be an integer >= 1, got {k!r}")
        self.score, self.false_reject, self.k = score, float(false_reject), k

    def on_fit_end(self, fit: Fit) -> None:
        if not fit.run.writer:
            return
        if not hasattr(fit.eval_model, "embed") and not hasattr(fit.eval_model, "embed_and_classify"):
            log.warning("callbacks.rejection: %s has no embed(); its answers are never 'unknown'", fit.model_name)
            return
        device = fit.trainer.device
        if fit.data.val_seen:
            log.warning(
                "callbacks.rejection: calibrated on val, which this run trained on (data.train_on_val): the "
                "threshold is optimistic, it will reject more known signs than it says; choose it again on clips "
                "it did not train on: signlang calibrate %s --data-dir DIR --labels CSV",
                fit.run.path,
            )
        for which in ("best", "last"):
            path = fit.run.checkpoint_path(fit.model_name, which)
            if not path.exists():
                continue
            state = load_checkpoint(path, map_location=device)
            model = copy.deepcopy(fit.eval_model)
            model.load_state_dict(state["model"])
            rejector = calibrate(
                self.score,
                infer(model, fit.data.statistics(), device),
                infer(model, fit.data.val_once(), device),
                len(fit.data.gloss_names),
                false_reject=self.false_reject,
                k=self.k,
            )
            fit.run.update_checkpoint(path, rejection=rejector.state_dict())
            c = rejector.calibration
            log.info(
                "rejection (%s checkpoint): %s >= %.4f is a known sign; on val it rejects %.1f%% of %d clips, "
                "accuracy %.3f -> %.3f",
                which,
                self.score,
                rejector.threshold,
                100 * c["val_false_reject"],
                c["val_clips"],
                c["val_accuracy"],
                c["val_accuracy_with_rejection"],
            )


def build_callbacks(cfg: Any) -> list[Callback]:
    """The callbacks a ``callbacks`` config names (entries set to null are off), in hook order."""
    built = [instantiate(entry) for entry in (cfg or {}).values() if entry is not None]
    for callback in built:
        if not isinstance(callback, Callback):
            raise ConfigError(f"callbacks: {type(callback).__name__} is not a signlang.training.callbacks.Callback")
    return sorted(built, key=lambda c: c.order)

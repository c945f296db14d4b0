"""One readable training loop: train an epoch, validate, log a row, checkpoint, repeat.

``conf/trainer/*.yaml`` instantiates :class:`Trainer`; ``run.py`` hands it the model, the data,
the optimizer and scheduler partials and the run folder.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import DataLoader

from signlang import __version__
from signlang.data.clips import ClipSet
from signlang.data.loader import make_loader
from signlang.data.module import ClipData
from signlang.errors import ConfigError
from signlang.runtime import resolve_device
from signlang.training.checkpoint import load_checkpoint, save_checkpoint
from signlang.training.run_folder import RunFolder

log = logging.getLogger(__name__)

METRIC_COLUMNS = (
    "epoch", "train_loss", "train_gloss_acc", "train_cat_acc",
    "val_loss", "val_gloss_acc", "val_cat_acc", "lr", "epoch_time_s",
)  # fmt: skip


def param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Weight decay on weight matrices only; biases, norms and learned tokens are not decayed."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 and "token" not in name else no_decay).append(p)
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]


class Trainer:
    """Fits a two-head model (gloss, category) and keeps the run folder up to date after every epoch."""

    def __init__(
        self,
        max_epochs: int = 10,
        seed: int = 0,
        device: str = "auto",
        gloss_weight: float = 0.5,
        cat_weight: float = 0.5,
        num_workers: int = 0,
        pin_memory: bool | str = "auto",
        limit_train_batches: int | None = None,
        limit_val_batches: int | None = None,
        log_every: int = 10,
        progress: bool = True,
    ) -> None:
        if max_epochs < 1:
            raise ConfigError(f"trainer.max_epochs must be >= 1, got {max_epochs}")
        if gloss_weight < 0 or cat_weight < 0 or gloss_weight + cat_weight == 0:
            raise ConfigError("trainer.gloss_weight and trainer.cat_weight must be >= 0 and not both 0")
        if num_workers < 0:
            raise ConfigError(f"trainer.num_workers must be >= 0, got {num_workers}")
        self.max_epochs = max_epochs
        self.seed = seed
        self.device = resolve_device(device)
        self.gloss_weight = gloss_weight
        self.cat_weight = cat_weight
        self.num_workers = num_workers
        self.pin_memory = self.device.type == "cuda" if pin_memory == "auto" else bool(pin_memory)
        self.limit_train_batches = limit_train_batches
        self.limit_val_batches = limit_val_batches
        self.log_every = max(1, log_every)
        self.progress = progress

    # ----------------------------------------------------------------- building blocks
    def loader(self, clips: ClipSet, batch_size: int, train: bool) -> DataLoader:
        return make_loader(
            clips,
            batch_size,
            shuffle=train,
            seed=self.seed,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
        )

    def loss(self, logits: tuple[torch.Tensor, torch.Tensor], batch) -> torch.Tensor:
        gloss_logits, cat_logits = logits
        return self.gloss_weight * F.cross_entropy(gloss_logits, batch.gloss) + self.cat_weight * F.cross_entropy(
            cat_logits, batch.cat
        )

    def _batches(self, loader: DataLoader, limit: int | None, progress: Progress, label: str):
        total = len(loader) if limit is None else min(limit, len(loader))
        task = progress.add_task(label, total=total, status="")
        for i, batch in enumerate(loader):
            if i >= total:
                break
            yield task, batch.to(self.device, non_blocking=self.pin_memory)
            progress.advance(task)
        progress.remove_task(task)

    def train_epoch(self, model: nn.Module, loader: DataLoader, optimizer: Optimizer, progress: Progress, epoch: int) -> dict[str, float]:
        model.train()
        # Running sums stay on the device; they are read once per log interval, not every step.
        totals = torch.zeros(4, device=self.device)  # loss*n, gloss correct, cat correct, n
        for step, (task, batch) in enumerate(self._batches(loader, self.limit_train_batches, progress, f"epoch {epoch}")):
            logits = model(batch.x, batch.pad_mask)
            loss = self.loss(logits, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            n = len(batch)
            totals += torch.stack([
                loss.detach() * n,
                (logits[0].argmax(1) == batch.gloss).sum(),
                (logits[1].argmax(1) == batch.cat).sum(),
                torch.tensor(float(n), device=self.device),
            ])  # fmt: skip
            if (step + 1) % self.log_every == 0:
                progress.update(task, status=f"loss {totals[0].item() / totals[3].item():.4f}")
        loss_sum, gloss_ok, cat_ok, n = totals.tolist()
        return {"loss": loss_sum / n, "gloss_acc": gloss_ok / n, "cat_acc": cat_ok / n}

    @torch.no_grad()
    def evaluate(self, model: nn.Module, loader: DataLoader, progress: Progress, label: str, limit: int | None = None) -> dict[str, float]:
        """Loss and top-1 accuracies over ``loader`` (every clip counted once)."""
        model.eval()
        totals = torch.zeros(4, device=self.device)
        for _, batch in self._batches(loader, limit, progress, label):
            logits = model(batch.x, batch.pad_mask)
            n = len(batch)
            totals += torch.stack([
                self.loss(logits, batch) * n,
                (logits[0].argmax(1) == batch.gloss).sum(),
                (logits[1].argmax(1) == batch.cat).sum(),
                torch.tensor(float(n), device=self.device),
            ])  # fmt: skip
        loss_sum, gloss_ok, cat_ok, n = totals.tolist()
        return {"loss": loss_sum / n, "gloss_acc": gloss_ok / n, "cat_acc": cat_ok / n}

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            transient=True,
            disable=not self.progress,
        )

    # ----------------------------------------------------------------------- the loop
    def fit(
        self,
        model: nn.Module,
        data: ClipData,
        optimizer: Callable[..., Optimizer],
        scheduler: Callable[[Optimizer], Any],
        run: RunFolder,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Train for ``max_epochs``, keep best/last checkpoints, then score the best one on test (or val)."""
        data.setup()
        model_name = type(model).__name__
        norm = getattr(model, "input_norm", None)
        if norm is not None and not bool(norm.fitted):
            norm.fit(data.split("train").x)  # training statistics only: val/test stay unseen
        model.to(self.device)
        opt = optimizer(param_groups(model))
        sched = scheduler(opt)
        train_loader = self.loader(data.split("train"), data.batch_size, train=True)
        val_loader = self.loader(data.split("val"), data.eval_batch_size, train=False)
        n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        log.info("run folder: %s", run.path)
        log.info("%s: %.2fM trainable parameters on %s", model_name, n_params / 1e6, self.device)
        run.set_status("running", model=model_name, max_epochs=self.max_epochs, device=str(self.device), signlang_version=__version__)

        state = {"model_name": model_name, "config": config or {}, "gloss_names": data.gloss_names, "cat_names": data.cat_names}
        best_key, best_epoch, best = None, None, {}
        with self._progress() as progress:
            for epoch in range(1, self.max_epochs + 1):
                start = time.perf_counter()
                lr = opt.param_groups[0]["lr"]
                train_loader.batch_sampler.set_epoch(epoch)
                train = self.train_epoch(model, train_loader, opt, progress, epoch)
                val = self.evaluate(model, val_loader, progress, "val", self.limit_val_batches)
                sched.step(val["gloss_acc"]) if isinstance(sched, ReduceLROnPlateau) else sched.step()
                row = {
                    "epoch": epoch,
                    **{f"train_{k}": v for k, v in train.items()},
                    **{f"val_{k}": v for k, v in val.items()},
                    "lr": lr,
                    "epoch_time_s": round(time.perf_counter() - start, 3),
                }
                run.append_metrics(row)
                key = (val["gloss_acc"], -val["loss"])  # ties in accuracy go to the lower loss
                improved = best_key is None or key > best_key
                if improved:
                    best_key, best_epoch = key, epoch
                    best = {"val_loss": val["loss"], "val_gloss_acc": val["gloss_acc"], "val_cat_acc": val["cat_acc"]}
                state.update(
                    model=model.state_dict(),
                    optimizer=opt.state_dict(),
                    scheduler=sched.state_dict(),
                    epoch=epoch,
                    best_epoch=best_epoch,
                    best_metric=best_key[0],
                )
                save_checkpoint(run.checkpoint_path(model_name, "last"), state)
                if improved:
                    save_checkpoint(run.checkpoint_path(model_name, "best"), state)
                run.update_summary(epochs_completed=epoch, best_epoch=best_epoch, best=best)
                log.info(
                    "epoch %d/%d  train loss %.4f gloss %.3f cat %.3f | val loss %.4f gloss %.3f cat %.3f | lr %.2e | %.1fs%s",
                    epoch, self.max_epochs, train["loss"], train["gloss_acc"], train["cat_acc"],
                    val["loss"], val["gloss_acc"], val["cat_acc"], lr, row["epoch_time_s"],
                    "  * best" if improved else "",
                )  # fmt: skip

            final = self.final_evaluation(model, data, run, model_name, progress)
        summary = run.set_status("finished", final=final)
        log.info(
            "done: best epoch %d, val gloss %.3f cat %.3f; %s gloss %.3f cat %.3f (best checkpoint)",
            best_epoch, best["val_gloss_acc"], best["val_cat_acc"], final["split"], final["gloss_acc"], final["cat_acc"],
        )  # fmt: skip
        log.info("run folder: %s", run.path)
        return summary

    def final_evaluation(self, model: nn.Module, data: ClipData, run: RunFolder, model_name: str, progress: Progress) -> dict[str, Any]:
        """Score the val-selected best checkpoint on test when there is one, else (labelled) on val."""
        best = load_checkpoint(run.checkpoint_path(model_name, "best"), map_location=self.device)
        model.load_state_dict(best["model"])
        split = "test" if data.split("test") is not None else "val"
        clips = data.split(split)
        metrics = self.evaluate(model, self.loader(clips, data.eval_batch_size, train=False), progress, split)
        return {"split": split, "checkpoint": "best", "epoch": best["epoch"], "clips": len(clips), **metrics}

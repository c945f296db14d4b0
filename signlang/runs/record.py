"""What a run folder holds: its files, its statuses and the columns of ``metrics.csv``.

Training writes these (``signlang.runs.folder.RunFolder``); ``signlang runs``, ``evaluate``,
``plot``, the app, resume and the trackers read them. Each name is defined here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

METRICS_FILE = "metrics.csv"  # one row per epoch, appended as each ends
SUMMARY_FILE = "summary.json"  # status, choices, best epoch, final report, timing; rewritten atomically
ENV_FILE = "env.json"  # git commit, package versions, machine, command (env_resumed_<n>.json per resume)
CHECKPOINT_DIR = "checkpoints"  # <Model>_last.pt every epoch, <Model>_best.pt at the best one
PRETRAINED_FILE = "pretrained_encoder.pt"  # in CHECKPOINT_DIR, with pretrain=masked: the encoder(s), no heads
PRETRAIN_METRICS_FILE = "pretrain_metrics.csv"  # with pretrain=masked: step, loss, time_s every pretrain.log_every
PRETRAIN_COLUMNS = ("step", "loss", "time_s")
HYDRA_DIR = ".hydra"  # Hydra's record of the composed config (resumed sessions: .hydra/resumed_<time>/)
CONFIG_FILE = "config.yaml"
EVAL_DIR = "eval"  # eval/<split>/: metrics.json, predictions.csv, confusion matrices
PREDICTIONS_FILE = "predictions.csv"  # a clip report's one row per clip (eval/<split>_open/ and _streams/ have none)
CURVES_FILE = "curves.png"
LOCK_FILE = ".lock"  # held by the one process writing the run (signlang.runs.lock)
STATUSES = ("running", "finished", "failed", "interrupted")


@dataclass(frozen=True)
class Column:
    """One column of ``metrics.csv``: its name, what trackers call it, and the figure panel it is drawn in."""

    name: str
    tracker: str | None = None  # scalar name in TensorBoard and MLflow (None: not sent)
    panel: str | None = None  # panel of curves.png and the app's charts (None: not drawn)


COLUMNS = (
    Column("epoch"),
    Column("step"),
    Column("train_loss", "train/loss", "loss"),
    Column("train_gloss_acc", "train/gloss_acc", "gloss accuracy"),
    Column("train_cat_acc", "train/cat_acc", "category accuracy"),
    Column("val_loss", "val/loss", "loss"),
    Column("val_gloss_acc", "val/gloss_acc", "gloss accuracy"),
    Column("val_cat_acc", "val/cat_acc", "category accuracy"),
    Column("lr", "lr", "learning rate"),
    Column("epoch_time_s", "time/epoch_s"),
    Column("train_time_s", "time/train_s"),
    Column("data_wait", "time/data_wait"),
)
METRIC_COLUMNS = tuple(c.name for c in COLUMNS)
TRACKED = {c.name: c.tracker for c in COLUMNS if c.tracker}
PANELS = {p: tuple(c.name for c in COLUMNS if c.panel == p) for p in dict.fromkeys(c.panel for c in COLUMNS if c.panel)}


def is_run_folder(path: Path) -> bool:
    """Whether a run (or Hydra, launching one) has written into ``path``: such a folder is never reused."""
    return any((Path(path) / name).exists() for name in (SUMMARY_FILE, METRICS_FILE, CHECKPOINT_DIR, HYDRA_DIR))


def checkpoint_name(model_name: str, which: str) -> str:
    """``<ModelName>_<which>.pt`` with which = best | last."""
    return f"{model_name}_{which}.pt"

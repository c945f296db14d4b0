"""Evaluate a checkpoint of a run: after training (``run.py``) and later (``signlang evaluate``).

Everything is rebuilt from the run folder alone: the model from the config and weights in the
checkpoint, the data from that config (relative paths resolved against the folder training was
launched from), and the label names from the checkpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from signlang.core.errors import DataError
from signlang.core.paths import CONF_DIR
from signlang.data.clips import ClipSet
from signlang.data.module import ClipData
from signlang.evaluation.report import TOP_K, headline, predict_probs, write_report
from signlang.extract.pipeline import Options
from signlang.models.rejection import Rejector
from signlang.runs.checkpoints import find_checkpoint, load_checkpoint
from signlang.runs.record import CHECKPOINT_DIR, EVAL_DIR

log = logging.getLogger(__name__)
PATH_KEYS = ("root", "train_dir", "val_dir", "test_dir", "train_labels", "val_labels", "test_labels", "label_names")


def fresh_dir(base: Path) -> Path:
    """``base``, or ``base_2``, ``base_3``... if it exists: an earlier report is never overwritten."""
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}_{n}")
    return candidate


def evaluate_checkpoint(
    run_dir: Path,
    model: nn.Module,
    clips: ClipSet,
    batches,
    *,
    checkpoint: Path,
    name: str,
    gloss_names: list[str],
    cat_names: list[str],
    device: torch.device,
) -> dict[str, Any]:
    """Load ``checkpoint`` into ``model``, score ``clips`` (normalised, in ``batches``: ``ClipData.eval_loader``)
    and write ``eval/<name>/``; returns the headline."""
    state = load_checkpoint(checkpoint, map_location=device)
    model.load_state_dict(state["model"])
    model.to(device)
    gloss_probs, cat_probs = predict_probs(model, batches, len(clips), device)
    out_dir = fresh_dir(Path(run_dir) / EVAL_DIR / name)
    meta = {
        "split": name,
        "checkpoint": checkpoint.stem.rsplit("_", 1)[-1],
        "checkpoint_file": checkpoint.name,
        "epoch": state["epoch"],
    }
    report = write_report(out_dir, clips, gloss_probs, cat_probs, gloss_names, cat_names, meta)
    result = headline(report, out_dir, Path(run_dir))
    category = "" if result["cat_acc"] is None else f"; category top-1 {result['cat_acc']:.3f}"
    log.info(
        "%s (%d clips, %s checkpoint of epoch %d): gloss top-1 %.3f, top-%d %.3f, macro-F1 %.3f%s -> %s",
        name,
        len(clips),
        meta["checkpoint"],
        state["epoch"],
        result["gloss_acc"],
        TOP_K,
        result[f"gloss_top{TOP_K}"],
        result["gloss_macro_f1"],
        category,
        out_dir,
    )
    return result


def evaluate_average(
    runs: list[LoadedRun], scored: list[tuple[ClipSet, Any]], *, name: str, device: torch.device
) -> tuple[dict[str, Any], list[float]]:
    """Several separately trained runs read as one model: each run scores the same clips (``scored``:
    its own normalised ``(clips, batches)``), and their logits are averaged, as ``model=ensemble``
    averages its members'. Written to ``eval/<name>_average/`` of the first run; returns the headline
    and each run's own gloss top-1."""
    first, clips = runs[0], scored[0][0]
    for run, (other, _) in zip(runs[1:], scored[1:]):
        if other.names != clips.names or not np.array_equal(other.gloss, clips.gloss):
            raise DataError(
                f"{run.path} scores other clips on {name} than {first.path}; average runs trained and "
                "scored on the same split (or give --data-dir and --labels)"
            )
        if run.gloss_names != first.gloss_names:
            raise DataError(f"{run.path} names its glosses differently from {first.path}: they are other tasks")
    gloss, cat, alone = [], [], []
    for run, (_, batches) in zip(runs, scored):
        g, c = predict_probs(run.model, batches, len(clips), device)
        gloss.append(np.log(np.maximum(g, 1e-30)))  # log-probabilities: their mean ranks as the mean logits do
        cat.append(np.log(np.maximum(c, 1e-30)))
        alone.append(float((g.argmax(1) == clips.gloss).mean()))
    gloss_probs = torch.from_numpy(np.mean(gloss, 0)).softmax(-1).numpy()
    cat_probs = torch.from_numpy(np.mean(cat, 0)).softmax(-1).numpy()
    out_dir = fresh_dir(first.path / EVAL_DIR / f"{name}_average")
    meta = {
        "split": name,
        "checkpoint": first.checkpoint_path.stem.rsplit("_", 1)[-1],
        "average_of": [str(run.path.resolve()) for run in runs],
        "epochs": [run.state["epoch"] for run in runs],
    }
    report = write_report(out_dir, clips, gloss_probs, cat_probs, first.gloss_names, first.cat_names, meta)
    result = headline(report, out_dir, first.path)
    log.info(
        "%s, %d runs averaged (%d clips): gloss top-1 %.3f (alone %s), top-%d %.3f -> %s",
        name,
        len(runs),
        len(clips),
        result["gloss_acc"],
        ", ".join(f"{a:.3f}" for a in alone),
        TOP_K,
        result[f"gloss_top{TOP_K}"],
        out_dir,
    )
    return result, alone


def evaluate_best(run_dir: Path, model: nn.Module, data: ClipData, device: torch.device) -> dict[str, Any]:
    """What training ends with: the val-selected best checkpoint on test, or (labelled) on val. A run
    without the checkpoint callback has no best checkpoint: its last one is scored, and the log says so."""
    split = "test" if data.split("test") is not None else "val"
    if split == "val":
        seen = (
            "which this run trained on (data.train_on_val)"
            if data.train_on_val
            else "the split that selected the checkpoint"
        )
        log.warning("no test split configured: the final report is on val, %s", seen)
    if not any((Path(run_dir) / CHECKPOINT_DIR).glob("*_best.pt")):
        log.warning("no best checkpoint (callbacks.checkpoint is off): the final report scores the last epoch")
        checkpoint = find_checkpoint(run_dir, "last")
    else:
        checkpoint = find_checkpoint(run_dir, "best")
    return evaluate_checkpoint(
        run_dir,
        model,
        data.split(split),
        data.eval_loader(split),
        checkpoint=checkpoint,
        name=split,
        gloss_names=data.gloss_names,
        cat_names=data.cat_names,
        device=device,
    )


@dataclass
class LoadedRun:
    """A trained model rebuilt from its run folder."""

    path: Path
    checkpoint_path: Path
    state: dict[str, Any]
    config: DictConfig
    model: nn.Module
    transform: Any = None  # the run's transform pipeline (normalisation is applied to every input)

    @property
    def gloss_names(self) -> list[str]:
        return list(self.state["gloss_names"])

    @property
    def cat_names(self) -> list[str]:
        return list(self.state["cat_names"])

    @property
    def rejector(self) -> Rejector | None:
        """The checkpoint's "not a sign I know" score and threshold (``callbacks.rejection``,
        ``signlang calibrate``); None for a checkpoint without one: every answer is a gloss."""
        state = self.state.get("rejection")
        return Rejector.from_state(state) if state else None

    @property
    def fps(self) -> float:
        """The frame rate of the run's clips (as they were extracted; ``signlang extract``'s default when
        the run does not record it)."""
        return float((self.state.get("extraction") or {}).get("target_fps") or Options().fps)

    def data(self) -> ClipData:
        """The run's data config, with relative paths taken from where training was launched."""
        cfg = self.config.data.copy()
        launch = Path(self.state.get("launch_dir", "."))
        for key in PATH_KEYS:
            value = cfg.get(key)
            if value and not Path(str(value)).is_absolute():
                cfg[key] = str(launch / str(value))
        data = instantiate(cfg, transform=self.transform)
        data.bind_split(self.path, write=False)  # the val split the run trained with
        return data


# Model options whose default was turned on after they were added: a run trained before such a key
# existed built its model with the value here, not with today's default (conf/model/transformer.yaml's
# ``angles`` came in off and became the default later).
VALUE_BEFORE_ADDED = {"angles": False}


def with_keys_added_since(model: DictConfig) -> DictConfig:
    """A run's model config with the keys its ``conf/model`` option gained after it was trained, at
    their defaults, or at ``VALUE_BEFORE_ADDED`` where the default has changed since (a new option
    came in off: the model it builds is the one that was trained). Nested configs (an ensemble's
    ``member``) are completed the same way."""
    model = model.copy()
    for name, value in model.items():
        if isinstance(value, DictConfig) and "_target_" in value:
            model[name] = with_keys_added_since(value)
    for path in sorted(CONF_DIR.glob("model/*.yaml")):
        current = OmegaConf.load(path)
        if current.get("_target_") == model.get("_target_") and not current.get("defaults"):
            for key in current:
                if key not in model:
                    model[key] = VALUE_BEFORE_ADDED.get(key, current[key])
            break
    return model


def load_run(run_dir: str | Path, which: str = "best", device: torch.device | str = "cpu") -> LoadedRun:
    """Rebuild the model of ``run_dir`` from the config and weights in its ``<which>`` checkpoint."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"run folder not found: {run_dir}")
    path = find_checkpoint(run_dir, which)
    state = load_checkpoint(path, map_location=device)
    if not state.get("config"):
        raise DataError(f"{path} holds no config; it was not written by signlang training")
    config = OmegaConf.create(state["config"])
    config.model = with_keys_added_since(config.model)
    model = instantiate(config.model)
    model.load_state_dict(state["model"])
    model.to(device).eval()
    transform = instantiate(config.transform) if config.get("transform") else None
    return LoadedRun(run_dir, path, state, config, model, transform)

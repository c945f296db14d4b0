"""Evaluate a checkpoint of a run: after training (``run.py``) and later (``signlang evaluate``).

    signlang evaluate RUN_DIR [--split test|val] [--checkpoint best|last] [--data-dir DIR --labels CSV]

Everything is rebuilt from the run folder alone: the model from the config and weights in the
checkpoint, the data from that config (relative paths resolved against the folder training was
launched from), and the label names from the checkpoint.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table
from torch import nn

from signlang.config import register_resolvers
from signlang.data.clips import ClipSet
from signlang.data.module import ClipData
from signlang.errors import ConfigError, DataError
from signlang.evaluation.report import TOP_K, headline, predict_probs, write_report
from signlang.runtime import resolve_device
from signlang.training.checkpoint import load_checkpoint
from signlang.training.run_folder import CHECKPOINT_DIR

log = logging.getLogger(__name__)
PATH_KEYS = ("root", "train_dir", "val_dir", "test_dir", "train_labels", "val_labels", "test_labels", "label_names")


def fresh_dir(base: Path) -> Path:
    """``base``, or ``base_2``, ``base_3``... if it exists: an earlier report is never overwritten."""
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}_{n}")
    return candidate


def find_checkpoint(run_dir: Path, which: str = "best") -> Path:
    found = sorted((Path(run_dir) / CHECKPOINT_DIR).glob(f"*_{which}.pt"))
    if not found:
        raise DataError(f"{run_dir} has no checkpoints/*_{which}.pt (did the run finish an epoch?)")
    return found[0]


def evaluate_checkpoint(
    run_dir: Path,
    model: nn.Module,
    clips: ClipSet,
    *,
    checkpoint: Path,
    name: str,
    gloss_names: list[str],
    cat_names: list[str],
    device: torch.device,
    batch_size: int = 64,
    transform=None,
) -> dict[str, Any]:
    """Load ``checkpoint`` into ``model``, score ``clips`` and write ``eval/<name>/``; returns the headline."""
    state = load_checkpoint(checkpoint, map_location=device)
    model.load_state_dict(state["model"])
    model.to(device)
    gloss_probs, cat_probs = predict_probs(model, clips, device, batch_size, transform)
    out_dir = fresh_dir(Path(run_dir) / "eval" / name)
    meta = {
        "split": name,
        "checkpoint": checkpoint.stem.rsplit("_", 1)[-1],
        "checkpoint_file": checkpoint.name,
        "epoch": state["epoch"],
    }
    report = write_report(out_dir, clips, gloss_probs, cat_probs, gloss_names, cat_names, meta)
    result = headline(report, out_dir, Path(run_dir))
    log.info(
        "%s (%d clips, %s checkpoint of epoch %d): gloss top-1 %.3f, top-%d %.3f, macro-F1 %.3f; category top-1 %.3f -> %s",
        name,
        len(clips),
        meta["checkpoint"],
        state["epoch"],
        result["gloss_acc"],
        TOP_K,
        result[f"gloss_top{TOP_K}"],
        result["gloss_macro_f1"],
        result["cat_acc"],
        out_dir,
    )
    return result


def evaluate_best(
    run_dir: Path, model: nn.Module, data: ClipData, device: torch.device, transform=None
) -> dict[str, Any]:
    """What training ends with: the val-selected best checkpoint on test, or (labelled) on val."""
    split = "test" if data.split("test") is not None else "val"
    if split == "val":
        log.warning("no test split configured: the final report is on val, the split that selected the checkpoint")
    return evaluate_checkpoint(
        run_dir,
        model,
        data.split(split),
        checkpoint=find_checkpoint(run_dir, "best"),
        name=split,
        gloss_names=data.gloss_names,
        cat_names=data.cat_names,
        device=device,
        batch_size=data.eval_batch_size,
        transform=transform,
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

    def data(self) -> ClipData:
        """The run's data config, with relative paths taken from where training was launched."""
        cfg = self.config.data.copy()
        launch = Path(self.state.get("launch_dir", "."))
        for key in PATH_KEYS:
            value = cfg.get(key)
            if value and not Path(str(value)).is_absolute():
                cfg[key] = str(launch / str(value))
        data = instantiate(cfg)
        data.bind_split(self.path, write=False)  # the val split the run trained with
        return data


def load_run(run_dir: str | Path, which: str = "best", device: torch.device | str = "cpu") -> LoadedRun:
    """Rebuild the model of ``run_dir`` from the config and weights in its ``<which>`` checkpoint."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"run folder not found: {run_dir}")
    register_resolvers()
    path = find_checkpoint(run_dir, which)
    state = load_checkpoint(path, map_location=device)
    if not state.get("config"):
        raise DataError(f"{path} holds no config; it was not written by signlang training")
    config = OmegaConf.create(state["config"])
    model = instantiate(config.model)
    model.load_state_dict(state["model"])
    model.to(device).eval()
    transform = instantiate(config.transform) if config.get("transform") else None
    return LoadedRun(run_dir, path, state, config, model, transform)


def run_evaluate(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    device = resolve_device(args.device)
    run = load_run(args.run_dir, args.checkpoint, device)
    data = run.data()
    if args.data_dir or args.labels:
        if not (args.data_dir and args.labels):
            raise ConfigError("give both --data-dir and --labels to evaluate on other data")
        if not hasattr(data, "load"):
            raise ConfigError(
                "this run trained on synthetic data; --data-dir needs a run trained with data=keypoints/features"
            )
        clips = data.load(args.data_dir, args.labels)
        name = Path(args.data_dir).name
    else:
        split = args.split or ("test" if "test" in data.available() else "val")
        clips = data.split(split)
        if clips is None:
            raise ConfigError(f"the run has no {split} split; use --split val or --data-dir/--labels")
        name = split
    if args.checkpoint != "best":
        name = f"{name}_{args.checkpoint}"
    result = evaluate_checkpoint(
        run.path,
        run.model,
        clips,
        checkpoint=run.checkpoint_path,
        name=name,
        gloss_names=run.gloss_names,
        cat_names=run.cat_names,
        device=device,
        batch_size=data.eval_batch_size,
        transform=run.transform,
    )
    table = Table(title=f"{run.path.name}: {name}", show_header=False)
    for key in ("clips", "epoch", "gloss_acc", f"gloss_top{TOP_K}", "gloss_macro_f1", "cat_acc", "report"):
        value = result[key]
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run_dir", help="a run folder (experiments/runs/<run> or a sweep job)")
    parser.add_argument("--split", choices=["test", "val", "train"], help="default: test if the run has one, else val")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--data-dir", help="evaluate on another folder of .npz clips ...")
    parser.add_argument("--labels", help="... with this labels CSV")
    parser.add_argument("--device", default="auto")
    return parser

"""Checkpoints: what one holds, written atomically, read back without unpickling arbitrary objects.

A checkpoint holds everything needed to evaluate the model (``model``: with ``trainer.ema`` the
averaged weights; the config and label names) and to continue the run exactly (``train_model``:
the raw weights when they differ; optimizer, scheduler, AMP scaler, the loop's counters and every
RNG state).
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from signlang import __version__
from signlang.errors import ConfigError, DataError
from signlang.files import atomic_write
from signlang.training.rng import rng_state, set_rng_state


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Save ``state`` (tensors, numbers, strings, lists, dicts only) atomically."""
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a missing or damaged file is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, OSError) as e:
        raise DataError(f"{path} is not a readable signlang checkpoint ({type(e).__name__}: {e})") from None


def training_state(meta: dict[str, Any], model: nn.Module, ema, optimizer, scheduler, scaler, loop) -> dict[str, Any]:
    """The checkpoint of the epoch ``loop`` has just recorded; ``meta`` holds the run's fixed facts
    (model name, config, label names, launch folder)."""
    return {
        **meta,
        "model": (ema.state_dict() if ema is not None else model.state_dict()),
        **({"train_model": model.state_dict(), "ema_updates": ema.updates} if ema is not None else {}),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "epoch": loop.epoch,
        "best_epoch": loop.best_epoch,
        "best_metric": loop.best_key[0],
        "loop": asdict(loop),
        "rng": rng_state(),
        "signlang_version": __version__,
    }


def load_weights(model: nn.Module, state: dict[str, Any]) -> None:
    """The weights training continues from: the raw ones when the checkpoint also holds averaged ones."""
    try:
        model.load_state_dict(state.get("train_model", state["model"]))
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise ConfigError(
            f"the checkpoint does not fit this model ({first}); resume with the run's own model settings"
        ) from None


def restore_training(state: dict[str, Any], optimizer, scheduler, scaler, ema) -> dict[str, Any]:
    """Put optimizer, scheduler, scaler, averaged weights and RNG streams back as ``state`` left them;
    returns the loop's counters (``state["loop"]``)."""
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    if ema is not None and "train_model" in state:  # the averaged weights go on averaging
        ema.load_state_dict(state["model"], state["ema_updates"])
    set_rng_state(state["rng"])
    return state["loop"]

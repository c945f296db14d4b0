"""Checkpoint files of a run folder: written atomically, read back without unpickling arbitrary objects.

What a checkpoint holds is the trainer's business (``signlang.training.trainer.Trainer.state``):
the weights evaluation and prediction use under ``model``, the config and label names, and what
resuming needs. Only tensors, numbers, strings, lists and dicts go in, so ``weights_only=True`` loads it.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from signlang.core.errors import DataError
from signlang.core.files import atomic_write
from signlang.runs.record import CHECKPOINT_DIR


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Save ``state`` atomically: a crash at any moment leaves the previous file or the new one.
    Serialised in memory first, so a full disk is a plain ``OSError`` on ``path`` (torch's own writer
    turns it into a RuntimeError about zip positions)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda f: f.write(buffer.getbuffer()))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a missing or damaged file is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, OSError) as e:
        raise DataError(f"{path} is not a readable signlang checkpoint ({type(e).__name__}: {e})") from None


def find_checkpoint(run_dir: Path, which: str = "best") -> Path:
    """The run's ``checkpoints/<Model>_<which>.pt``."""
    found = sorted((Path(run_dir) / CHECKPOINT_DIR).glob(f"*_{which}.pt"))
    if not found:
        raise DataError(f"{run_dir} has no {CHECKPOINT_DIR}/*_{which}.pt (did the run finish an epoch?)")
    return found[0]

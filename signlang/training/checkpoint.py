"""Checkpoints written atomically and read back without unpickling arbitrary objects."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from signlang.errors import DataError
from signlang.files import atomic_write


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

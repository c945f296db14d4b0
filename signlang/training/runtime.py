"""Process-level set-up a run needs once: seeds, determinism and the device."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from signlang.core.errors import ConfigError
from signlang.training.distributed import local_rank_from_env, world_size_from_env


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA); optionally force deterministic kernels.

    DataLoader workers are seeded from the loader's own generator (signlang.data.loader).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # required by cuBLAS for determinism
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when available, else CPU; an explicit device must exist. Under ``torchrun``
    ``cuda`` means this process's GPU (LOCAL_RANK)."""
    local = local_rank_from_env() if world_size_from_env() > 1 else None
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and local is not None:
        device = f"cuda:{local}"  # torchrun: one GPU per process
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"trainer.device={device!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device={device} but CUDA is not available here; use trainer.device=auto or cpu")
    return dev

"""Distributed data parallel training under ``torchrun``: detection, process group, and the few
collectives the loop needs. Without ``torchrun`` (WORLD_SIZE unset or 1) everything is a no-op."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as torch_dist

log = logging.getLogger(__name__)


def world_size_from_env() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank_from_env() -> int:
    return int(os.environ.get("RANK", "0"))


def local_rank_from_env() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def joins_rank0() -> bool:
    """A ``torchrun`` process other than rank 0: it joins rank 0's run folder and writes none of its own."""
    return world_size_from_env() > 1 and rank_from_env() > 0


def side_dir() -> str:
    """Where Hydra may write for a rank other than 0 (outside the experiments folder; rank 0's run
    folder is the one all ranks use)."""
    job = os.environ.get("TORCHELASTIC_RUN_ID", str(os.getppid()))
    return os.path.join(tempfile.gettempdir(), f"signlang-{job}-rank{rank_from_env()}")


@dataclass
class Distributed:
    """This process's place in the job: rank 0 of 1 when not distributed."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            torch_dist.barrier()

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """All-reduce (sum) in place across ranks; returns the tensor."""
        if self.enabled:
            torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.SUM)
        return tensor

    def max(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.MAX)
        return tensor

    def sum_counts(self, totals: torch.Tensor, seen: int) -> int:
        """Sum per-rank running totals (in place) and the number of clips they cover."""
        if not self.enabled:
            return seen
        count = totals.new_tensor([float(seen)])
        self.sum(totals)
        return int(self.sum(count).item())

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        torch_dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        """Leave the job; a rank other than 0 also removes the empty folder Hydra made for it."""
        if self.enabled and torch_dist.is_initialized():
            torch_dist.destroy_process_group()
        if joins_rank0():  # the process that side_dir() was made for
            with contextlib.suppress(OSError):  # not empty or already gone: left as it is
                os.rmdir(side_dir())


def init_distributed(device: str = "auto") -> Distributed:
    """Join the ``torchrun`` job: NCCL with one GPU per process when CUDA is used, else Gloo on CPU.

    Ranks other than 0 log warnings only, so the console shows one run.
    """
    world = world_size_from_env()
    if world <= 1:
        return Distributed()
    rank, local = rank_from_env(), local_rank_from_env()
    cuda = torch.cuda.is_available() and device in ("auto", "cuda") or str(device).startswith("cuda")
    backend = "nccl" if cuda else "gloo"
    if cuda:
        torch.cuda.set_device(local)
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend)
    if rank != 0:
        logging.getLogger().setLevel(logging.WARNING)
    log.info("distributed: %d processes (%s)", world, backend)
    return Distributed(rank, world, local, backend)

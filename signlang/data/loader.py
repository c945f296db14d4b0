"""Batch order and DataLoader construction for in-memory ClipSets."""

from __future__ import annotations

import random
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from signlang.data.clips import ClipSet


class BatchSampler:
    """Yields the index batches of one epoch.

    The order is a pure function of ``(seed, epoch)``, so a resumed run replays exactly the
    batches an uninterrupted run would have seen, with no sampler state in the checkpoint.
    Without shuffling, clips are sorted by length so evaluation batches carry little padding.
    """

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[np.ndarray]:
        n = len(self.lengths)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.argsort(self.lengths, kind="stable")
        stop = n - n % self.batch_size if self.drop_last else n
        return [order[i : i + self.batch_size] for i in range(0, stop, self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        for b in self.batches():
            yield b.tolist()

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class _Indices(Dataset):
    """Items are plain indices; ClipSet.batch turns a list of them into a padded batch."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def make_loader(
    clips: ClipSet,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    drop_last: bool = False,
    num_workers: int = 0,
    pin_memory: bool = False,
    prefetch_factor: int | None = None,
) -> DataLoader:
    """A DataLoader whose batches are gathered from the in-memory buffer in one step."""
    sampler = BatchSampler(clips.lengths, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    extra = {}
    if num_workers > 0:
        extra = {"persistent_workers": True, "prefetch_factor": prefetch_factor or 2, "worker_init_fn": seed_worker}
    return DataLoader(
        _Indices(len(clips)),
        batch_sampler=sampler,
        collate_fn=clips.batch,
        num_workers=num_workers,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(seed),  # worker seeds derive from it
        **extra,
    )


def seed_worker(worker_id: int) -> None:
    """Seed NumPy and ``random`` in a loader worker from the per-worker torch seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)

"""Batch order and DataLoader construction for in-memory ClipSets."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from signlang.data.clips import ClipSet
from signlang.data.prefetch import ThreadPrefetcher


class BatchSampler:
    """Yields the index batches of one epoch.

    The order is a pure function of ``(seed, epoch)``, so a resumed run replays exactly the
    batches an uninterrupted run would have seen, with no sampler state in the checkpoint.

    - ``shuffle`` and ``bucket``: clips are ordered by length (ties broken at random), cut into
      buckets of ``bucket_batches`` batches, shuffled within each bucket and cut into batches, and
      the batches are shuffled: similar lengths per batch, little padding, still random.
    - ``shuffle`` only: a random permutation.
    - neither (evaluation): sorted by length.

    With ``world_size > 1`` each rank takes every ``world_size``-th batch of the same list; with
    ``even`` (training) the list is wrapped to a multiple of ``world_size`` so all ranks take the
    same number of steps, without it (evaluation) each clip is seen exactly once.
    """

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        drop_last: bool = False,
        bucket: bool = False,
        bucket_batches: int = 8,
        rank: int = 0,
        world_size: int = 1,
        even: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.bucket = bucket
        self.bucket_batches = max(1, bucket_batches)
        self.rank = rank
        self.world_size = world_size
        self.even = even
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _chunk(self, order: np.ndarray) -> list[np.ndarray]:
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        return [order[i : i + self.batch_size] for i in range(0, stop, self.batch_size)]

    def all_batches(self) -> list[np.ndarray]:
        """The epoch's batches for all ranks together."""
        n = len(self.lengths)
        if not self.shuffle:
            return self._chunk(np.argsort(self.lengths, kind="stable"))
        rng = np.random.default_rng([self.seed, self.epoch])
        if not self.bucket:
            return self._chunk(rng.permutation(n))
        by_length = np.lexsort((rng.random(n), self.lengths))
        span = self.batch_size * self.bucket_batches
        batches = [
            b for start in range(0, n, span) for b in self._chunk(rng.permutation(by_length[start : start + span]))
        ]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        return [batches[i] for i in rng.permutation(len(batches))]

    def batch_seed(self, number: int) -> int:
        """Seed for augmenting this rank's batch ``number`` of the current epoch."""
        return int(np.random.SeedSequence([self.seed, self.epoch, self.rank, number]).generate_state(1)[0])

    def batches(self) -> list[np.ndarray]:
        """This rank's batches."""
        batches = self.all_batches()
        if self.world_size == 1:
            return batches
        if not self.even:  # evaluation: every clip on exactly one rank, step counts may differ
            return batches[self.rank :: self.world_size]
        total = -(-len(batches) // self.world_size) * self.world_size
        batches = (batches * (total // max(1, len(batches)) + 1))[:total]
        return batches[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        for b in self.batches():
            yield b.tolist()

    def __len__(self) -> int:
        return len(self.batches())


def padding_fraction(lengths: np.ndarray, batches: list[np.ndarray]) -> float:
    """Share of the positions in padded batches that are padding."""
    lengths = np.asarray(lengths)
    padded = sum(len(b) * int(lengths[b].max()) for b in batches)
    return 1.0 - float(sum(int(lengths[b].sum()) for b in batches)) / padded


class InProcessBatches:
    """Batches gathered straight from the split, in this process: what ``make_loader`` returns for
    ``num_workers=0``. The DataLoader machinery (per-index fetches, collation) would add Python work
    per batch for nothing, and that work holds the GIL a prefetch thread needs. With ``prefetch`` the
    next batches are gathered (and augmented) in a background thread while the model computes."""

    num_workers = 0

    def __init__(
        self,
        clips: ClipSet,
        sampler: BatchSampler,
        pin_memory: bool = False,
        transform=None,
        train: bool = False,
        prefetch: bool = False,
        pad_to: int | None = None,
    ) -> None:
        self.clips = clips
        self.batch_sampler = sampler
        self.pin_memory = pin_memory
        self.prefetch = prefetch
        self.collate = _Collate(clips, transform, train, pad_to)

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def _batches(self):
        for number, indices in enumerate(self.batch_sampler.batches()):
            batch = self.collate(indices, self.batch_sampler.batch_seed(number))
            yield batch.pin_memory() if self.pin_memory else batch

    def __iter__(self):
        return iter(ThreadPrefetcher(self._batches())) if self.prefetch else self._batches()


class _Collate:
    """Gather a batch and run the transform pipeline on it with a generator seeded for that batch."""

    def __init__(self, clips, transform, train: bool, pad_to: int | None = None) -> None:
        self.clips, self.transform, self.train, self.pad_to = clips, transform, train, pad_to

    def __call__(self, indices, seed: int | None = None):
        if len(indices) and isinstance(indices[0], tuple):  # from a DataLoader: (index, batch seed) pairs
            seed, indices = indices[0][1], [i for i, _ in indices]
        batch = self.clips.batch(indices)
        if self.transform:
            generator = torch.Generator().manual_seed(int(seed)) if self.train else None
            batch = self.transform(
                batch, generator, train=self.train, normalize=not getattr(self.clips, "normalized", False)
            )
        return batch.pad_time(self.pad_to)  # data.pad_to: a few static shapes (CUDA graphs)


class _SeededBatches:
    """Batch sampler for a DataLoader: each batch as (index, batch seed) pairs, so workers seed augmentation."""

    def __init__(self, sampler: BatchSampler) -> None:
        self.sampler = sampler

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def batches(self) -> list[np.ndarray]:
        return self.sampler.batches()

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        for number, batch in enumerate(self.sampler.batches()):
            seed = self.sampler.batch_seed(number)
            yield [(int(i), seed) for i in batch]


class _Indices(Dataset):
    """Items are plain indices; ClipSet.batch turns a list of them into a padded batch."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        return i


def make_loader(
    clips: ClipSet,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    drop_last: bool = False,
    bucket: bool = False,
    num_workers: int = 0,
    pin_memory: bool = False,
    prefetch: bool = False,
    prefetch_factor: int | None = None,
    rank: int = 0,
    world_size: int = 1,
    transform=None,
    pad_to: int | None = None,
) -> DataLoader | InProcessBatches:
    """Batches gathered from the split's buffer in one step (``ClipSet.batch``): in this process for
    ``num_workers=0``, else through a DataLoader with worker processes. ``transform`` (a
    ``signlang.data.transforms.Pipeline``) normalises every batch and augments training
    (``shuffle``) batches, seeded per batch from (seed, epoch, batch number)."""
    sampler = BatchSampler(
        clips.lengths,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
        bucket=bucket,
        rank=rank,
        world_size=world_size,
        even=shuffle,
    )
    if num_workers == 0:
        return InProcessBatches(clips, sampler, pin_memory, transform, train=shuffle, prefetch=prefetch, pad_to=pad_to)
    extra = {"persistent_workers": True, "prefetch_factor": prefetch_factor or 2, "worker_init_fn": seed_worker}
    return DataLoader(
        _Indices(len(clips)),
        batch_sampler=_SeededBatches(sampler),
        collate_fn=_Collate(clips, transform, train=shuffle, pad_to=pad_to),
        num_workers=num_workers,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(seed),  # worker seeds derive from it
        **extra,
    )


def eval_batches(clips, transform=None, batch_size: int = 64) -> DataLoader | InProcessBatches:
    """Every clip of ``clips`` once, sorted by length, normalised by ``transform`` and never augmented:
    what evaluation, prediction and the input statistics read."""
    prepared = transform.prepare(clips) if transform else clips  # same clips, same order, normalised once
    return make_loader(prepared, batch_size, shuffle=False, transform=transform)


def seed_worker(worker_id: int) -> None:
    """Seed NumPy and ``random`` in a loader worker from the per-worker torch seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)

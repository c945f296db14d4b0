"""What every data config instantiates: the splits of one dataset, how they are normalised and
batched, and the facts a run records about them.

The trainer asks a :class:`ClipData` once, through :meth:`ClipData.for_training`, for everything it
needs (loaders, the clips input statistics are fitted on, label names, extraction settings);
evaluation asks :meth:`ClipData.eval_loader`. Every loader setting lives here, in ``conf/data``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from signlang.core.errors import ConfigError
from signlang.core.layout import INPUT_DIMS
from signlang.data.clips import Batch, ClipSet, DeviceClips
from signlang.data.labels import read_label_names
from signlang.data.loader import eval_batches, make_loader

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass
class TrainingData:
    """What the trainer gets from the data, once (:meth:`ClipData.for_training`)."""

    train: (
        Any  # batches of the training split: shuffled, bucketed by length, augmented (InProcessBatches or DataLoader)
    )
    val: Any  # batches of the val split, sorted by length, every clip once
    statistics: Callable[[], Iterable[Batch]]  # the training split normalised, never augmented: what InputNorm fits
    val_once: Callable[[], Iterable[Batch]]  # every val clip once, normalised, on every rank (calibration)
    gloss_names: list[str]
    cat_names: list[str]
    extraction: dict | None  # how the clips were extracted from videos (recorded for signlang predict)
    val_seen: bool  # data.train_on_val: the val clips are in the training batches too
    batch_size: int
    description: str  # for the log: the pipeline the batches pass through


class ClipData:
    """Train, val and optional test ClipSets, each loaded on first use (``setup()`` loads all), the
    transform pipeline that normalises and augments them (``conf/transform``, handed in by ``run.py``),
    and the loaders that batch them.

    Subclasses implement ``available()`` and ``_load_split``. ``kind`` says what a frame is
    (``keypoints``: 78 points x (x, y); ``features``: InceptionV3 features) so a model reading the
    other kind is refused before training.
    """

    def __init__(
        self,
        *,
        kind: str,
        num_gloss: int,
        num_cat: int,
        batch_size: int,
        eval_batch_size: int | None = None,
        label_names: str | None = None,
        bucket: bool = True,
        num_workers: int | str = "auto",
        pin_memory: bool | str = "auto",
        prefetch: bool = True,
        prefetch_factor: int = 2,
        cache: str = "memory",
        device_share: float = 0.8,
        pad_to: int | None = None,
        train_on_val: bool = False,
        transform: Any = None,
    ) -> None:
        if kind not in INPUT_DIMS:
            raise ConfigError(f"data.kind must be one of {sorted(INPUT_DIMS)}, got {kind!r}")
        for key, value in (("num_gloss", num_gloss), ("num_cat", num_cat), ("batch_size", batch_size)):
            if int(value) < 1:
                raise ConfigError(f"data.{key} must be >= 1, got {value}")
        if num_workers != "auto" and (not isinstance(num_workers, int) or num_workers < 0):
            raise ConfigError(f"data.num_workers must be auto or an integer >= 0, got {num_workers!r}")
        self.kind = kind
        self.num_gloss = int(num_gloss)
        self.num_cat = int(num_cat)
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size or batch_size)
        self.label_names = label_names
        self.bucket = bool(bucket)  # training batches of similar length (signlang.data.loader.BatchSampler)
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.prefetch = bool(prefetch)
        self.prefetch_factor = int(prefetch_factor)
        if not 0.0 < device_share <= 1.0:
            raise ConfigError(f"data.device_share must be in (0, 1], got {device_share}")
        if pad_to is not None and (not isinstance(pad_to, int) or pad_to < 1):
            raise ConfigError(f"data.pad_to must be a number of frames >= 1 or null, got {pad_to!r}")
        self.cache = cache
        self.device_share = float(device_share)
        self.pad_to = pad_to
        if not isinstance(train_on_val, bool):
            raise ConfigError(f"data.train_on_val must be true or false, got {train_on_val!r}")
        self.train_on_val = train_on_val
        self.gloss_names = [str(i) for i in range(self.num_gloss)]
        self.cat_names = [str(i) for i in range(self.num_cat)]
        if label_names:
            self.gloss_names, self.cat_names = read_label_names(label_names, self.num_gloss, self.num_cat)
        self.transform = transform  # a signlang.data.transforms.Pipeline, or None
        self._splits: dict[str, ClipSet] = {}
        self._prepared: dict[str, ClipSet] = {}

    @property
    def input_dim(self) -> int:
        return INPUT_DIMS[self.kind]

    def available(self) -> list[str]:
        """The splits this dataset has (train and val always; test when configured)."""
        raise NotImplementedError

    def _load_split(self, name: str) -> ClipSet:
        raise NotImplementedError

    def extraction(self) -> dict | None:
        """How the clips were extracted from videos (``signlang extract``'s settings), so a video can be
        turned into the same kind of clip at prediction time; None when unknown."""
        return None

    def bind_split(self, folder, write: bool = True) -> None:
        """Share how the splits were made with run ``folder`` (see NpzData: a carved val split); a
        dataset whose splits are fixed has nothing to record."""

    def setup(self) -> None:
        """Load every split now (training needs them all) and report the memory they take."""
        for name in self.available():
            self.split(name)
        sizes = ", ".join(f"{name} {len(s)}" for name, s in self._splits.items())
        mapped = sum(s.nbytes for s in self._splits.values() if isinstance(getattr(s, "buffer", None), np.memmap))
        total = sum(s.nbytes for s in self._splits.values()) - mapped
        where = f", {mapped / 2**20:.1f} MiB memory-mapped from disk" if mapped else ""
        log.info("data: %s clips (%s), %.1f MiB in memory%s", self.kind, sizes, total / 2**20, where)

    def _forget(self, *names: str) -> None:
        """Drop loaded splits (their clips changed: a carved split read back from a run folder)."""
        for name in names:
            self._splits.pop(name, None)
            self._prepared.pop(name, None)

    def prepared(self, name: str) -> ClipSet | None:
        """The split ``name`` with the pipeline's normalisation applied once, up front (``Pipeline.prepare``)."""
        if name not in self._prepared:
            clips = self.split(name)
            if clips is None:
                return None
            self._prepared[name] = self.prepare(clips)
        return self._prepared[name]

    def prepare(self, clips: ClipSet) -> ClipSet:
        """``clips`` (a split, or clips read with ``load``) with the pipeline's normalisation applied once."""
        return self.transform.prepare(clips) if self.transform else clips

    def for_training(
        self, run_dir: str | Path, *, write: bool = True, seed: int = 0, device=None, rank: int = 0, world_size: int = 1
    ) -> TrainingData:
        """Everything training reads, in one call: the splits of run ``run_dir`` (a carved val split is
        recorded there, or read back on resume: :meth:`bind_split`), loaded, normalised and batched
        for this process (``rank`` of ``world_size``) on ``device``."""
        self.bind_split(run_dir, write=write)
        self.setup()
        train, val = self.prepared("train"), self.prepared("val")
        if self.train_on_val:
            if not (isinstance(train, ClipSet) and isinstance(val, ClipSet)):
                raise ConfigError("data.train_on_val joins splits held in memory; use data.cache=memory or mmap")
            train = ClipSet.concat([train, val])
            log.warning(
                "data.train_on_val: training on train + val (%d clips); the val numbers below are on clips it "
                "trains on, so they choose nothing: the last epoch is kept, and only a test split measures it",
                len(train),
            )
        place = dict(device=device, rank=rank, world_size=world_size)
        return TrainingData(
            train=self.loader(train, train=True, seed=seed, **place),
            val=self.loader(val, train=False, **place),
            statistics=lambda: eval_batches(train, self.transform, self.eval_batch_size),  # all clips, every rank
            val_once=lambda: eval_batches(val, self.transform, self.eval_batch_size),
            gloss_names=self.gloss_names,
            cat_names=self.cat_names,
            extraction=self.extraction(),
            val_seen=self.train_on_val,
            batch_size=self.batch_size,
            description=f"transforms: {self.transform}" if self.transform else "no transforms",
        )

    def eval_loader(self, clips: str | ClipSet):
        """Every clip of a split (its name, or clips read with :meth:`load`) once, sorted by length, normalised."""
        if isinstance(clips, str):
            return self.loader(self.prepared(clips), train=False)
        return eval_batches(clips, self.transform, self.eval_batch_size)

    def split(self, name: str) -> ClipSet | None:
        """The ClipSet of ``name`` (train/val/test), loaded on first use; None for an absent test split."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}")
        if name not in self._splits:
            if name not in self.available():
                return None
            clips = self._load_split(name)
            if len(clips) == 0:
                raise ConfigError(f"the {name} split is empty")
            self._splits[name] = clips
        return self._splits[name]

    # ------------------------------------------------------------------------- batching
    def workers_for(self, clips) -> int:
        """``auto``: 0 for splits held in memory or mmap (a batch is one gather; workers would only add
        inter-process copies); for ``data.cache=none`` (files read per batch) one per spare core, up to 4."""
        if self.num_workers != "auto":
            return int(self.num_workers)
        if isinstance(clips, ClipSet):
            return 0
        return max(1, min(4, (os.cpu_count() or 2) - 1))

    def loader(self, clips, *, train: bool, seed: int = 0, device=None, rank: int = 0, world_size: int = 1):
        """Batches of ``clips``: shuffled, bucketed by length and augmented for training; sorted by
        length for evaluation. In-process batches are prepared a few ahead in a background thread
        (``prefetch``); pinned for fast copies to a GPU (``pin_memory``, auto: with CUDA)."""
        clips = self.placed(clips, device)
        on_gpu = getattr(device, "type", str(device)) == "cuda"
        pin = (on_gpu if self.pin_memory == "auto" else bool(self.pin_memory)) and not isinstance(clips, DeviceClips)
        return make_loader(
            clips,
            self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            bucket=train and self.bucket,
            seed=seed,
            num_workers=self.workers_for(clips),
            pin_memory=pin,
            prefetch=self.prefetch,
            prefetch_factor=self.prefetch_factor,
            transform=self.transform,
            rank=rank,
            world_size=world_size,
            pad_to=self.pad_to,
        )

    def placed(self, clips, device):
        """``data.cache=device``: the split on the GPU when it fits (``choose_placement``), with one log
        line saying where and why; any other cache (or a split read per batch) stays where it is."""
        if self.cache != "device" or not isinstance(clips, ClipSet):
            return clips
        where, why = choose_placement(clips.nbytes, torch.device(device or "cpu"), self.device_share)
        log.info(
            "data.cache=device: %d clips %s (%s)",
            len(clips),
            "on the GPU" if where == "device" else "in pinned host memory",
            why,
        )
        return DeviceClips(clips, device) if where == "device" else clips


def split_paths(
    split: str, root: str | None, folder: str, directory: str | None, labels: str | None
) -> tuple[str, str]:
    """A split's folder and labels CSV: as given, else from ``root`` in the seed layout
    (``<root>/<folder>_<split>``, ``<root>/<split>_labels.csv``)."""
    if (directory is None or labels is None) and root is None:
        missing = " and ".join(f"data.{split}_{k}" for k, v in (("dir", directory), ("labels", labels)) if v is None)
        extra = " (or carve val from the training CSV with data.val_split=0.15)" if split == "val" else ""
        raise ConfigError(f"no {split} split: set {missing}, or data.root to a folder in the seed layout{extra}")
    return (
        directory if directory is not None else str(Path(root) / f"{folder}_{split}"),
        labels if labels is not None else str(Path(root) / f"{split}_labels.csv"),
    )


def choose_placement(nbytes: int, device: torch.device, share: float, free: int | None = None) -> tuple[str, str]:
    """Where a split of ``nbytes`` goes with ``data.cache=device``: ``("device", why)`` when it fits in
    ``share`` of the GPU's free memory, else ``("host", why)`` (pinned memory, non-blocking copies)."""
    if device.type != "cuda":
        return "host", f"no GPU: training runs on {device}"
    if free is None:
        free, _ = torch.cuda.mem_get_info(device)
    room = f"{share:.0%} of the {free / 2**30:.1f} GiB free on {device}"
    if nbytes <= share * free:
        return "device", f"{nbytes / 2**20:.0f} MiB fit in {room}"
    return "host", f"{nbytes / 2**20:.0f} MiB do not fit in {room} (data.device_share)"

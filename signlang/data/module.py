"""What every data config instantiates: the splits of one dataset plus the facts models are built from."""

from __future__ import annotations

import logging

import numpy as np

from signlang.data.clips import ClipSet
from signlang.data.labels import read_label_names
from signlang.data.layout import INPUT_DIMS
from signlang.errors import ConfigError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class ClipData:
    """Train, val and optional test ClipSets, each loaded on first use (``setup()`` loads all).

    Subclasses implement ``available()`` and ``_load_split``. ``kind`` says what a frame is
    (``keypoints``: 78 points x (x, y); ``features``: InceptionV3 features) so a model reading the
    other kind is refused before training.
    """

    def __init__(
        self,
        *,
        kind: str,
        input_dim: int,
        num_gloss: int,
        num_cat: int,
        batch_size: int,
        eval_batch_size: int | None = None,
        label_names: str | None = None,
        bucket: bool = True,
    ) -> None:
        if kind not in INPUT_DIMS:
            raise ConfigError(f"data.kind must be one of {sorted(INPUT_DIMS)}, got {kind!r}")
        if input_dim != INPUT_DIMS[kind]:
            raise ConfigError(
                f"data.input_dim={input_dim} does not match data.kind={kind!r} "
                f"(expects {INPUT_DIMS[kind]}); leave data.input_dim at its default"
            )
        for key, value in (("num_gloss", num_gloss), ("num_cat", num_cat), ("batch_size", batch_size)):
            if int(value) < 1:
                raise ConfigError(f"data.{key} must be >= 1, got {value}")
        self.kind = kind
        self.input_dim = int(input_dim)
        self.num_gloss = int(num_gloss)
        self.num_cat = int(num_cat)
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size or batch_size)
        self.label_names = label_names
        self.bucket = bool(bucket)  # training batches of similar length (signlang.data.loader.BatchSampler)
        self.gloss_names = [str(i) for i in range(self.num_gloss)]
        self.cat_names = [str(i) for i in range(self.num_cat)]
        if label_names:
            self.gloss_names, self.cat_names = read_label_names(label_names, self.num_gloss, self.num_cat)
        self._splits: dict[str, ClipSet] = {}

    def available(self) -> list[str]:
        """The splits this dataset has (train and val always; test when configured)."""
        raise NotImplementedError

    def _load_split(self, name: str) -> ClipSet:
        raise NotImplementedError

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

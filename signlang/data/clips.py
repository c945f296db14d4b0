"""A split held in memory as one frame buffer plus offsets, and the padded batches cut from it.

Keeping every clip of a split in one contiguous array means a batch is a single vectorised
gather: no per-item file reads, no Python loops over frames, no list of small tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Sequence

import numpy as np
import torch


@dataclass
class Batch:
    """Padded clips of one batch; ``pad_mask`` is True at padding positions."""

    x: torch.Tensor  # [B, T, D] float32, zero at padding
    pad_mask: torch.Tensor  # [B, T] bool
    lengths: torch.Tensor  # [B] int64
    gloss: torch.Tensor  # [B] int64
    cat: torch.Tensor  # [B] int64
    occluded: torch.Tensor  # [B] int64
    index: torch.Tensor  # [B] int64, position of each clip in its ClipSet
    point_mask: torch.Tensor | None = None  # [B, T, 78] bool, True where a keypoint was detected

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def _map(self, fn) -> "Batch":
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(self, **{k: fn(v) for k, v in values.items() if v is not None})

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Batch":
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "Batch":
        """Called by DataLoader(pin_memory=True) so host-to-GPU copies can be asynchronous."""
        return self._map(lambda t: t.pin_memory())


@dataclass
class ClipSet:
    """Every clip of one split: frames of clip ``i`` are ``x[offsets[i]:offsets[i+1]]``."""

    x: np.ndarray  # [total_frames, D]; float32, or float16 to halve the memory of features
    offsets: np.ndarray  # [N + 1] int64, offsets[0] == 0
    gloss: np.ndarray  # [N] int64
    cat: np.ndarray  # [N] int64
    occluded: np.ndarray  # [N] int64 (0/1)
    names: list[str]  # file name (without .npz) or a synthetic id, one per clip
    point_mask: np.ndarray | None = None  # [total_frames, 78] bool

    def __post_init__(self) -> None:
        n = len(self.names)
        if self.offsets.shape != (n + 1,) or self.offsets[0] != 0 or self.offsets[-1] != len(self.x):
            raise ValueError("offsets must have N+1 entries from 0 to the number of frames")
        for name in ("gloss", "cat", "occluded"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have one entry per clip")
        if self.point_mask is not None and self.point_mask.shape[0] != len(self.x):
            raise ValueError("point_mask must have one row per frame")

    @classmethod
    def from_clips(
        cls,
        clips: Sequence[np.ndarray],
        gloss: Sequence[int],
        cat: Sequence[int],
        occluded: Sequence[int],
        names: Sequence[str],
        point_masks: Sequence[np.ndarray] | None = None,
        dtype: np.dtype | type = np.float32,
    ) -> "ClipSet":
        """Concatenate per-clip ``[T, D]`` arrays into one buffer (one copy, then the list can go)."""
        lengths = np.array([len(c) for c in clips], dtype=np.int64)
        offsets = np.zeros(len(clips) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        width = clips[0].shape[1] if clips else 0
        x = np.empty((int(offsets[-1]), width), dtype=dtype)
        for clip, start, stop in zip(clips, offsets[:-1], offsets[1:]):
            x[start:stop] = clip
        mask = None
        if point_masks is not None:
            mask = np.empty((int(offsets[-1]), point_masks[0].shape[1]), dtype=bool)
            for m, start, stop in zip(point_masks, offsets[:-1], offsets[1:]):
                mask[start:stop] = m
        return cls(
            x=x,
            offsets=offsets,
            gloss=np.asarray(gloss, dtype=np.int64),
            cat=np.asarray(cat, dtype=np.int64),
            occluded=np.asarray(occluded, dtype=np.int64),
            names=list(names),
            point_mask=mask,
        )

    def __len__(self) -> int:
        return len(self.names)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def width(self) -> int:
        return int(self.x.shape[1])

    @property
    def nbytes(self) -> int:
        """Memory the split's arrays take."""
        extra = 0 if self.point_mask is None else self.point_mask.nbytes
        return int(self.x.nbytes + self.offsets.nbytes + extra + 3 * self.gloss.nbytes)

    def clip(self, i: int) -> np.ndarray:
        return self.x[self.offsets[i] : self.offsets[i + 1]]

    def batch(self, indices: Sequence[int]) -> Batch:
        """Gather clips ``indices`` into one zero-padded batch with a single fancy-index per array."""
        idx = np.asarray(indices, dtype=np.int64)
        lengths = self.offsets[idx + 1] - self.offsets[idx]
        steps = np.arange(int(lengths.max()), dtype=np.int64)
        valid = steps[None, :] < lengths[:, None]  # [B, T]
        rows = np.where(valid, self.offsets[idx][:, None] + steps[None, :], 0)
        x = self.x[rows]
        x[~valid] = 0
        point_mask = None
        if self.point_mask is not None:
            point_mask = self.point_mask[rows]
            point_mask[~valid] = False
            point_mask = torch.from_numpy(point_mask)
        return Batch(
            x=torch.from_numpy(x).float(),
            pad_mask=torch.from_numpy(~valid),
            lengths=torch.from_numpy(lengths),
            gloss=torch.from_numpy(self.gloss[idx]),
            cat=torch.from_numpy(self.cat[idx]),
            occluded=torch.from_numpy(self.occluded[idx]),
            index=torch.from_numpy(idx),
            point_mask=point_mask,
        )

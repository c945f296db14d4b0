"""A split held as one frame buffer plus offsets, and the padded batches cut from it.

Keeping every clip of a split in one contiguous array means a batch is a single vectorised
gather: no per-item file reads, no Python loops over frames, no list of small tensors. The buffer
ends with one all-zero row that padding positions point at, so padding needs no masking pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from signlang.core.layout import NUM_POINTS


@dataclass
class Batch:
    """Padded clips of one batch; ``pad_mask`` is True at padding positions."""

    x: torch.Tensor  # [B, T, D], zero at padding; float16 when the buffer is (models compute in float32)
    pad_mask: torch.Tensor  # [B, T] bool
    lengths: torch.Tensor  # [B] int64, always on the CPU (packing needs host lengths; no device sync)
    gloss: torch.Tensor  # [B] int64
    cat: torch.Tensor  # [B] int64
    occluded: torch.Tensor  # [B] int64
    index: torch.Tensor  # [B] int64, position of each clip in its ClipSet
    point_mask: torch.Tensor | None = None  # [B, T, 78] bool, True where a keypoint was detected

    @classmethod
    def from_arrays(
        cls, x: np.ndarray, valid: np.ndarray, idx: np.ndarray, labels, point_mask: np.ndarray | None = None
    ) -> Batch:
        """A batch from padded NumPy arrays; ``labels`` has ``gloss``, ``cat``, ``occluded`` per clip of the split."""
        return cls(
            x=torch.from_numpy(x),
            pad_mask=torch.from_numpy(~valid),
            lengths=torch.from_numpy(valid.sum(axis=1)),
            gloss=torch.from_numpy(labels.gloss[idx]),
            cat=torch.from_numpy(labels.cat[idx]),
            occluded=torch.from_numpy(labels.occluded[idx]),
            index=torch.from_numpy(idx),
            point_mask=None if point_mask is None else torch.from_numpy(point_mask),
        )

    def pad_time(self, multiple: int | None) -> Batch:
        """The batch with its time axis padded up to a multiple of ``multiple`` frames: a handful of
        distinct shapes instead of one per length (what CUDA graphs need to be reused)."""
        steps = self.x.shape[1]
        target = -(-steps // multiple) * multiple if multiple and multiple > 1 else steps
        if target == steps:
            return self
        extra = target - steps

        def pad(t: torch.Tensor, value) -> torch.Tensor:  # along the time axis (dim 1), whatever the rank
            return torch.nn.functional.pad(t, (0, 0) * (t.dim() - 2) + (0, extra), value=value)

        return replace(
            self,
            x=pad(self.x, 0),
            pad_mask=pad(self.pad_mask, True),
            point_mask=None if self.point_mask is None else pad(self.point_mask, False),
        )

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def _map(self, fn) -> Batch:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "lengths"}
        return replace(self, **{k: fn(v) for k, v in values.items() if v is not None})

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """Move to ``device``. Float16 ``x`` stays float16 (half the copy): the models' first op,
        the input standardisation, computes in float32."""
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> Batch:
        """Called by DataLoader(pin_memory=True) so host-to-GPU copies can be asynchronous."""
        return self._map(lambda t: t.pin_memory())


def pad_row_gather(buffer, starts: np.ndarray, lengths: np.ndarray):
    """Rows of ``buffer`` for clips starting at ``starts``: ``[B, max_len, ...]`` plus the valid mask.

    The one padding routine: padding positions read the buffer's last row, which is all zeros (or
    False). ``buffer`` is a NumPy array, or a tensor (on a GPU with ``data.cache=device``: then the
    gather runs there and the result stays there).
    """
    steps = np.arange(int(lengths.max()), dtype=np.int64)
    valid = steps[None, :] < lengths[:, None]
    rows = np.where(valid, starts[:, None] + steps[None, :], len(buffer) - 1)
    if isinstance(buffer, torch.Tensor):
        return buffer[torch.from_numpy(rows).to(buffer.device)], torch.from_numpy(valid).to(buffer.device)
    return buffer[rows], valid


def pad_clips(clips: Sequence, masks: Sequence | None = None):
    """Clips of different lengths (arrays or tensors) as one zero-padded ``[B, max_len, D]``, the valid
    mask and the padded point masks (``pad_row_gather`` over the clips laid end to end)."""
    lengths = np.array([len(c) for c in clips], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    cat = torch.cat if isinstance(clips[0], torch.Tensor) else np.concatenate
    laid = lambda parts: cat([*parts, parts[0][:1] * 0])  # noqa: E731  (the all-zero row padding reads)
    x, valid = pad_row_gather(laid(clips), starts, lengths)
    if masks is None:
        return x, valid, None
    return x, valid, pad_row_gather(laid(masks), starts, lengths)[0]


@dataclass
class ClipSet:
    """Every clip of one split: frames of clip ``i`` are ``buffer[offsets[i]:offsets[i+1]]``.

    ``buffer`` (and ``mask_buffer``) carry one extra all-zero row at the end for padding; ``x`` is
    the frames without it. Either may be a NumPy memmap (``data.cache=mmap``).
    """

    buffer: np.ndarray  # [total_frames + 1, D]; float32, or float16 to halve the memory of features
    offsets: np.ndarray  # [N + 1] int64, offsets[0] == 0
    gloss: np.ndarray  # [N] int64
    cat: np.ndarray  # [N] int64
    occluded: np.ndarray  # [N] int64 (0/1)
    names: list[str]  # file name (without .npz) or a synthetic id, one per clip
    mask_buffer: np.ndarray | None = None  # [total_frames + 1, 78] bool
    normalized: bool = False  # the transform pipeline's normalisation is applied (Pipeline.prepare)

    def __post_init__(self) -> None:
        n = len(self.names)
        if self.offsets.shape != (n + 1,) or self.offsets[0] != 0 or self.offsets[-1] != len(self.buffer) - 1:
            raise ValueError("offsets must have N+1 entries from 0 to the number of frames (buffer has one pad row)")
        for name in ("gloss", "cat", "occluded"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have one entry per clip")
        if self.mask_buffer is not None and self.mask_buffer.shape[0] != len(self.buffer):
            raise ValueError("mask_buffer must have one row per buffer row")

    @staticmethod
    def allocate(
        lengths: np.ndarray, width: int, dtype, with_mask: bool, out=None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Offsets and zeroed buffers for clips of ``lengths`` (``out(name, shape, dtype)`` may supply memmaps)."""
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        rows = int(offsets[-1]) + 1
        make = out or (lambda name, shape, dt: np.zeros(shape, dtype=dt))
        buffer = make("x", (rows, width), dtype)
        buffer[-1] = 0
        mask = make("mask", (rows, NUM_POINTS), bool) if with_mask else None
        if mask is not None:
            mask[-1] = False
        return offsets, buffer, mask

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
    ) -> ClipSet:
        """Copy per-clip ``[T, D]`` arrays into one buffer."""
        lengths = np.array([len(c) for c in clips], dtype=np.int64)
        width = clips[0].shape[1] if clips else 0
        offsets, buffer, mask = cls.allocate(lengths, width, dtype, point_masks is not None)
        for i, clip in enumerate(clips):
            buffer[offsets[i] : offsets[i + 1]] = clip
            if mask is not None:
                mask[offsets[i] : offsets[i + 1]] = point_masks[i]
        return cls(
            buffer=buffer,
            offsets=offsets,
            gloss=np.asarray(gloss, dtype=np.int64),
            cat=np.asarray(cat, dtype=np.int64),
            occluded=np.asarray(occluded, dtype=np.int64),
            names=list(names),
            mask_buffer=mask,
        )

    @classmethod
    def concat(cls, sets: Sequence[ClipSet]) -> ClipSet:
        """One ClipSet of ``sets`` in order (copied into memory, memmaps too), e.g. train and val for
        ``data.train_on_val``. Masks are kept when every set has them."""
        with_mask = all(s.mask_buffer is not None for s in sets)
        lengths = np.concatenate([s.lengths for s in sets])
        offsets, buffer, mask = cls.allocate(lengths, sets[0].width, sets[0].buffer.dtype, with_mask)
        start = 0
        for s in sets:
            rows = len(s.x)
            buffer[start : start + rows] = s.x
            if mask is not None:
                mask[start : start + rows] = s.point_mask
            start += rows
        return cls(
            buffer=buffer,
            offsets=offsets,
            gloss=np.concatenate([s.gloss for s in sets]),
            cat=np.concatenate([s.cat for s in sets]),
            occluded=np.concatenate([s.occluded for s in sets]),
            names=[n for s in sets for n in s.names],
            mask_buffer=mask,
            normalized=all(s.normalized for s in sets),
        )

    def __len__(self) -> int:
        return len(self.names)

    @property
    def x(self) -> np.ndarray:
        """All frames of the split, ``[total_frames, D]`` (a view, without the padding row)."""
        return self.buffer[:-1]

    @property
    def point_mask(self) -> np.ndarray | None:
        return None if self.mask_buffer is None else self.mask_buffer[:-1]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def width(self) -> int:
        return int(self.buffer.shape[1])

    @property
    def nbytes(self) -> int:
        """Memory the split's arrays take (on disk instead, for a memmap)."""
        extra = 0 if self.mask_buffer is None else self.mask_buffer.nbytes
        return int(self.buffer.nbytes + self.offsets.nbytes + extra + 3 * self.gloss.nbytes)

    def clip(self, i: int) -> np.ndarray:
        return self.buffer[self.offsets[i] : self.offsets[i + 1]]

    def chunks(self, rows: int = 65536) -> Iterator[np.ndarray]:
        """The split's frames in blocks, for statistics over data that may not fit in memory twice."""
        for start in range(0, len(self.x), rows):
            yield self.x[start : start + rows]

    def batch(self, indices: Sequence[int]) -> Batch:
        """Gather clips ``indices`` into one zero-padded batch with a single fancy-index per array."""
        idx = np.asarray(indices, dtype=np.int64)
        lengths = self.offsets[idx + 1] - self.offsets[idx]
        x, valid = pad_row_gather(self.buffer, self.offsets[idx], lengths)
        point_mask = (
            None if self.mask_buffer is None else pad_row_gather(self.mask_buffer, self.offsets[idx], lengths)[0]
        )
        return Batch.from_arrays(x, valid, idx, self, point_mask)


class DeviceClips:
    """A split held on a device (``data.cache=device``): its frames, masks and labels copied there
    once, so a batch is one gather on the device and nothing crosses from the host per step. The
    lengths stay on the host (the batch sampler and ``Batch.lengths`` read them without a sync)."""

    normalized = True  # made from a split the pipeline has already normalised

    def __init__(self, clips: ClipSet, device: torch.device) -> None:
        self.offsets = clips.offsets
        self.names = clips.names
        self.device = torch.device(device)
        put = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(self.device)  # noqa: E731
        self.buffer = put(clips.buffer)
        self.mask_buffer = None if clips.mask_buffer is None else put(clips.mask_buffer)
        self.gloss, self.cat, self.occluded = put(clips.gloss), put(clips.cat), put(clips.occluded)
        self.normalized = clips.normalized

    def __len__(self) -> int:
        return len(self.names)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def nbytes(self) -> int:
        return int(self.buffer.numel() * self.buffer.element_size())

    def batch(self, indices: Sequence[int]) -> Batch:
        idx = np.asarray(indices, dtype=np.int64)
        starts, lengths = self.offsets[idx], self.offsets[idx + 1] - self.offsets[idx]
        x, valid = pad_row_gather(self.buffer, starts, lengths)
        mask = None if self.mask_buffer is None else pad_row_gather(self.mask_buffer, starts, lengths)[0]
        on_device = torch.from_numpy(idx).to(self.device)
        return Batch(
            x=x,
            pad_mask=~valid,
            lengths=torch.from_numpy(lengths),
            gloss=self.gloss[on_device],
            cat=self.cat[on_device],
            occluded=self.occluded[on_device],
            index=torch.from_numpy(idx),
            point_mask=mask,
        )

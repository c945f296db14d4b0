"""Keypoint normalisation and augmentation, and feature augmentation, composable from YAML.

A :class:`Pipeline` (``conf/transform/*.yaml``) has a ``normalize`` list, applied to every batch of
every split (and by ``signlang evaluate`` / ``predict``), and an ``augment`` list, applied after it
to training batches only. Each transform works on one clip: ``x [T, D]`` float32 and, for
keypoints, ``mask [T, 78]`` (True = detected). Undetected points are exact zeros with mask False
before and after every transform, and never enter statistics.

Randomness comes only from the ``torch.Generator`` handed in, which the loader seeds from
``(trainer.seed, epoch, batch number)``: augmented batches repeat exactly across runs, resumes and
numbers of loader workers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from signlang.core.errors import ConfigError
from signlang.core.layout import (
    LEFT_ELBOW,
    LEFT_HAND,
    LEFT_POSE_HAND,
    LEFT_SHOULDER,
    LEFT_WRIST,
    MIRROR,
    NUM_POINTS,
    RIGHT_ELBOW,
    RIGHT_HAND,
    RIGHT_POSE_HAND,
    RIGHT_SHOULDER,
    RIGHT_WRIST,
)
from signlang.data.clips import Batch, ClipSet, pad_clips


@dataclass
class Clip:
    x: torch.Tensor  # [T, D] float32
    mask: torch.Tensor | None  # [T, 78] bool for keypoints

    @property
    def is_keypoints(self) -> bool:
        """Keypoints (a mask, or 78 x 2 columns), as opposed to per-frame features."""
        return self.mask is not None or self.x.shape[1] == 2 * NUM_POINTS

    @property
    def points(self) -> torch.Tensor:
        return self.x.view(len(self.x), NUM_POINTS, 2)

    def present(self) -> torch.Tensor:
        """[T, 78] True where a point was detected (the mask, or non-zero coordinates)."""
        return self.mask if self.mask is not None else (self.points != 0).any(-1)

    def with_points(self, points: torch.Tensor, present: torch.Tensor) -> Clip:
        """New clip from ``points [T,78,2]``, zeroing every point not ``present``."""
        points = points * present[..., None]
        return Clip(points.reshape(len(points), -1), present if self.mask is not None else None)


def _uniform(g: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=g))


def _rotation(theta: float) -> torch.Tensor:
    """The 2 x 2 matrix that turns points by ``theta`` radians."""
    return torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])


class Transform:
    """One step of a pipeline; ``__call__(clip, generator)`` returns a new clip."""

    def __call__(self, clip: Clip, g: torch.Generator | None) -> Clip:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


# ------------------------------------------------------------------------------- normalisation
class ShoulderNormalize(Transform):
    """Centre each clip on its mean shoulder midpoint and scale by its mean shoulder width (pose 11/12).

    Frames where a shoulder is missing do not count. Without any frame with both shoulders, the
    centre and spread of all detected points are used instead; a clip with no detected point is
    left as it is. Translating or scaling the input leaves the output unchanged.
    """

    def __init__(self, min_width: float = 1e-3) -> None:
        self.min_width = min_width

    def __call__(self, clip: Clip, g: torch.Generator | None = None) -> Clip:
        p, present = clip.points, clip.present()
        both = present[:, LEFT_SHOULDER] & present[:, RIGHT_SHOULDER]
        if both.any():
            left, right = p[both, LEFT_SHOULDER], p[both, RIGHT_SHOULDER]
            center = ((left + right) / 2).mean(0)
            scale = (left - right).norm(dim=-1).mean()
        elif present.any():
            detected = p[present]
            center = detected.mean(0)
            scale = 2 * (detected - center).norm(dim=-1).mean()  # about a shoulder width for a framed upper body
        else:
            return clip
        return clip.with_points((p - center) / scale.clamp(min=self.min_width), present)


class TrimToHands(Transform):
    """Keep the frames from the first to the last one with a detected hand, plus ``margin`` (a
    fraction of the clip's length) either side.

    Signers start and end a clip with their hands down, where the hand tracker finds nothing: in
    FSL-105 the sign fills about 45 of a clip's 122 frames, and the rest is the same resting pose
    for every gloss. Cutting it lets attention and pooling see the sign and makes a clip about
    half as long to compute. Clips in which no hand is ever detected, and per-frame features, are
    kept whole.
    """

    def __init__(self, margin: float = 0.05) -> None:
        if not 0.0 <= margin <= 1.0:
            raise ConfigError(f"TrimToHands margin must be a fraction of the clip in [0, 1], got {margin}")
        self.margin = margin

    def __call__(self, clip: Clip, g: torch.Generator | None = None) -> Clip:
        if not clip.is_keypoints:
            return clip
        hands = clip.present()[:, LEFT_HAND.start : RIGHT_HAND.stop].any(dim=1)
        seen = torch.nonzero(hands).flatten()
        if len(seen) == 0:
            return clip
        pad = math.ceil(self.margin * len(clip.x))
        start, stop = max(0, int(seen[0]) - pad), min(len(clip.x), int(seen[-1]) + 1 + pad)
        return Clip(clip.x[start:stop], None if clip.mask is None else clip.mask[start:stop])


# ----------------------------------------------------------------------------------- spatial
class RandomAffine(Transform):
    """Random scale, rotation (degrees), shear and shift of all detected points of a clip."""

    def __init__(
        self, scale: float = 0.15, rotate: float = 15.0, shear: float = 0.1, shift: float = 0.1, p: float = 1.0
    ) -> None:
        self.scale, self.rotate, self.shear, self.shift, self.p = scale, rotate, shear, shift, p

    def __call__(self, clip: Clip, g: torch.Generator | None) -> Clip:
        if float(torch.rand((), generator=g)) >= self.p:
            return clip
        s = _uniform(g, 1 - self.scale, 1 + self.scale)
        sx, sy = s * _uniform(g, 0.95, 1.05), s * _uniform(g, 0.95, 1.05)
        theta = math.radians(_uniform(g, -self.rotate, self.rotate))
        shear = _uniform(g, -self.shear, self.shear)
        matrix = _rotation(theta) @ torch.tensor([[1.0, shear], [0.0, 1.0]]) @ torch.diag(torch.tensor([sx, sy]))
        offset = torch.tensor([_uniform(g, -self.shift, self.shift), _uniform(g, -self.shift, self.shift)])
        present = clip.present()
        device = (
            clip.x.device
        )  # random numbers come from the CPU generator; the clip may live on a GPU (data.cache=device)
        return clip.with_points(clip.points @ matrix.T.to(device) + offset.to(device), present)


# Each arm from the shoulder: shoulder, elbow, wrist, the pose's own hand points (a list: it indexes one
# axis) and the hand's 21 points (the hand's wrist is its first point).
ARMS = (
    (LEFT_SHOULDER, LEFT_ELBOW, LEFT_WRIST, list(LEFT_POSE_HAND), LEFT_HAND),
    (RIGHT_SHOULDER, RIGHT_ELBOW, RIGHT_WRIST, list(RIGHT_POSE_HAND), RIGHT_HAND),
)


class RandomLimbs(Transform):
    """Another signer's proportions: each upper arm and forearm lengthened or shortened by a random
    factor in [1 - ``limb``, 1 + ``limb``], and each hand scaled by up to ``hand`` and turned by up to
    ``hand_rotate`` degrees about its wrist, the same for every frame of a clip.

    A global affine (:class:`RandomAffine`) changes the camera; it cannot change how long a signer's
    arms are against their shoulders, or how large their hands, which is what differs between people
    signing the same sign. Each joint moves with the bone above it, so the arm stays a connected arm.
    Off in the keypoint recipe (``p: 0``): level on WLASL100's val (docs/pages/results.md).
    """

    def __init__(self, limb: float = 0.15, hand: float = 0.15, hand_rotate: float = 15.0, p: float = 1.0) -> None:
        self.limb, self.hand, self.hand_rotate, self.p = limb, hand, hand_rotate, p

    def __call__(self, clip: Clip, g: torch.Generator | None) -> Clip:
        if self.p == 0.0 or not clip.is_keypoints or float(torch.rand((), generator=g)) >= self.p:
            return clip  # off: no random number drawn, so the other steps' draws are unchanged
        p, present = clip.points, clip.present()
        out = p.clone()
        for shoulder, elbow, wrist, pose_hand, hand in ARMS:
            upper, fore = _uniform(g, 1 - self.limb, 1 + self.limb), _uniform(g, 1 - self.limb, 1 + self.limb)
            size = _uniform(g, 1 - self.hand, 1 + self.hand)
            theta = math.radians(_uniform(g, -self.hand_rotate, self.hand_rotate))
            turn = (size * _rotation(theta)).to(p.device)
            # How far the elbow, then the wrist, move (zero in frames where a bone's ends are not both found).
            upper_ok = (present[:, shoulder] & present[:, elbow])[:, None]
            at_elbow = (upper - 1) * (p[:, elbow] - p[:, shoulder]) * upper_ok
            fore_ok = (present[:, elbow] & present[:, wrist])[:, None]
            at_wrist = at_elbow + (fore - 1) * (p[:, wrist] - p[:, elbow]) * fore_ok
            out[:, elbow] = p[:, elbow] + at_elbow
            out[:, wrist] = p[:, wrist] + at_wrist
            out[:, pose_hand] = out[:, wrist, None] + (p[:, pose_hand] - p[:, wrist, None]) @ turn.T
            fingers = p[:, hand.start : hand.stop]
            out[:, hand.start : hand.stop] = fingers[:, :1] + at_wrist[:, None] + (fingers - fingers[:, :1]) @ turn.T
        return clip.with_points(out, present)


class Flip(Transform):
    """Mirror the signer left-right with probability ``p``: x mirrors about the clip's mean x, and left/
    right hands, pose sides and face sides swap, so the result is a valid (left-handed) signer.
    Applied twice, it returns the input."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p
        self._perm = torch.as_tensor(MIRROR)

    def __call__(self, clip: Clip, g: torch.Generator | None) -> Clip:
        if self.p < 1.0 and float(torch.rand((), generator=g)) >= self.p:
            return clip
        p, present = clip.points, clip.present()
        if not present.any():
            return clip
        center = p[..., 0][present].mean()
        perm = self._perm.to(clip.x.device)
        mirrored = p[:, perm].clone()
        mirrored[..., 0] = 2 * center - mirrored[..., 0]
        return clip.with_points(mirrored, present[:, perm])


class MirrorLeftHanded(Transform):
    """Mirror (as :class:`Flip`) every clip signed with the left hand, so all signers sign right-handed.

    A normalisation step, the same for every split and at prediction: a left-handed signer's sign
    then looks like a right-handed one's instead of like another sign (WLASL100 has left-handed
    signers; FSL-105's sign right-handed, and random mirroring cost points on asl33). The signing hand is
    the one whose pose wrist travels further over the clip (pose wrists are found in nearly every
    frame, hands often are not); a clip is mirrored when its left wrist travels more than ``ratio``
    times as far as its right, so two-handed signs, where both hands move alike, stay as they are.
    """

    def __init__(self, ratio: float = 1.5) -> None:
        if not ratio >= 1.0:
            raise ConfigError(
                f"MirrorLeftHanded ratio (how much further the left wrist travels) must be >= 1, got {ratio}"
            )
        self.ratio = ratio
        self._flip = Flip(p=1.0)

    @staticmethod
    def travel(clip: Clip, point: int) -> float:
        """How far ``point`` moves over the clip: the summed steps between consecutive frames that both have it."""
        p, found = clip.points[:, point], clip.present()[:, point]
        both = found[1:] & found[:-1]
        return float((p[1:] - p[:-1]).norm(dim=-1)[both].sum())

    def __call__(self, clip: Clip, g: torch.Generator | None = None) -> Clip:
        if not clip.is_keypoints or self.travel(clip, LEFT_WRIST) <= self.ratio * self.travel(clip, RIGHT_WRIST):
            return clip
        return self._flip(clip, g)


# ---------------------------------------------------------------------------------- temporal
def _resample(clip: Clip, positions: torch.Tensor) -> Clip:
    """Frames at fractional ``positions``: linear between two detected neighbours, else the nearest."""
    lo = positions.floor().long().clamp(0, len(clip.x) - 1)
    hi = (lo + 1).clamp(max=len(clip.x) - 1)
    w = (positions - lo).clamp(0, 1)[:, None]
    x = clip.x[lo] * (1 - w) + clip.x[hi] * w
    if not clip.is_keypoints:  # features: plain interpolation
        return Clip(x, None)
    present = clip.present()
    both = present[lo] & present[hi]
    nearest = torch.where(w[:, :1] < 0.5, lo[:, None], hi[:, None]).expand_as(both)
    near_present = present.gather(0, nearest)
    points = x.view(len(x), NUM_POINTS, 2)
    near_points = clip.points[nearest, torch.arange(NUM_POINTS, device=clip.x.device)]
    points = torch.where(both[..., None], points, near_points)
    return clip.with_points(points, both | (near_present & ~both))


class Speed(Transform):
    """Play the clip faster or slower by a random factor in [low, high] (resampling frames)."""

    def __init__(self, low: float = 0.8, high: float = 1.25, p: float = 1.0) -> None:
        self.low, self.high, self.p = low, high, p

    def __call__(self, clip: Clip, g: torch.Generator | None) -> Clip:
        if len(clip.x) < 2 or float(torch.rand((), generator=g)) >= self.p:
            return clip
        factor = _uniform(g, self.low, self.high)
        length = max(1, round(len(clip.x) / factor))
        return _resample(clip, torch.linspace(0, len(clip.x) - 1, length, device=clip.x.device))


class RandomCrop(Transform):
    """Keep a random contiguous window of at least ``min_fraction`` of the clip."""

    def __init__(self, min_fraction: float = 0.8, p: float = 1.0) -> None:
        self.min_fraction, self.p = min_fraction, p

    def __call__(self, clip: Clip, g: torch.Generator | None) -> Clip:
        n = len(clip.x)
        if n < 2 or float(torch.rand((), generator=g)) >= self.p:
            return clip
        keep = max(1, round(n * _uniform(g, self.min_fraction, 1.0)))
        start = int(torch.randint(0, n - keep + 1, (), generator=g))
        return Clip(clip.x[start : start + keep], None if clip.mask is None else clip.mask[start : start + keep])


class FrameDropout(Transform):
    """Drop each frame with probability ``p`` (at least half the frames are kept)."""

    def __init__(self, p: float = 0.1) -> None:
        self.p = p

    def __call__(self, clip: Clip, g: torch.Generator | None) -> Clip:
        n = len(clip.x)
        keep = (torch.rand(n, generator=g) >= self.p).to(clip.x.device)
        if keep.sum() < max(1, n // 2):
            return clip
        return Clip(clip.x[keep], None if clip.mask is None else clip.mask[keep])


class PointDropout(Transform):
    """Mark points missing: each point for the whole clip with ``p_point``; each hand, with
    ``p_hand``, for a random stretch of up to ``max_span`` of the frames (as a tracker loses a hand
    for a while; losing it for a whole one-handed sign would only teach noise)."""

    def __init__(self, p_point: float = 0.05, p_hand: float = 0.1, max_span: float = 0.3) -> None:
        self.p_point, self.p_hand, self.max_span = p_point, p_hand, max_span

    def __call__(self, clip: Clip, g: torch.Generator | None) -> Clip:
        n = len(clip.x)
        drop = (torch.rand(NUM_POINTS, generator=g) < self.p_point).expand(n, -1).clone().to(clip.x.device)
        for hand in (LEFT_HAND, RIGHT_HAND):
            if float(torch.rand((), generator=g)) < self.p_hand:
                span = max(1, int(n * _uniform(g, 0.0, self.max_span)))
                start = int(torch.randint(0, n - span + 1, (), generator=g))
                drop[start : start + span, hand.start : hand.stop] = True
        if not drop.any():
            return clip
        return clip.with_points(clip.points, clip.present() & ~drop)


class GaussianNoise(Transform):
    """Add N(0, sigma) to every detected coordinate (or to every feature value)."""

    def __init__(self, sigma: float = 0.01) -> None:
        self.sigma = sigma

    def __call__(self, clip: Clip, g: torch.Generator | None) -> Clip:
        noise = torch.randn(clip.x.shape, generator=g).to(clip.x.device) * self.sigma
        if not clip.is_keypoints:
            return Clip(clip.x + noise * clip.x.std().clamp(min=1e-6), None)  # features: relative to their spread
        present = clip.present()
        return clip.with_points(clip.points + noise.view_as(clip.points), present)


class TimeMask(Transform):
    """Zero up to ``count`` random spans of at most ``max_fraction`` of the frames (features)."""

    def __init__(self, count: int = 2, max_fraction: float = 0.1) -> None:
        self.count, self.max_fraction = count, max_fraction

    def __call__(self, clip: Clip, g: torch.Generator | None) -> Clip:
        n = len(clip.x)
        width_max = max(1, int(n * self.max_fraction))
        x = clip.x.clone()
        for _ in range(self.count):
            width = int(torch.randint(0, width_max + 1, (), generator=g))
            if width:
                start = int(torch.randint(0, n - width + 1, (), generator=g))
                x[start : start + width] = 0
        return Clip(x, clip.mask)


# ---------------------------------------------------------------------------------- pipeline
Steps = Mapping[str, "Transform | None"] | Sequence[Transform] | None


def _steps(steps: Steps) -> list[Transform]:
    """Transforms in order from a named mapping (``conf/transform``: one key per step, so a step can be
    dropped with ``~transform.augment.<name>`` or set to null), a plain list, or None (no steps)."""
    if steps is None:
        return []
    values = steps.values() if isinstance(steps, Mapping) else steps
    return [t for t in values if t is not None]


class Pipeline:
    """``normalize`` for every batch, then ``augment`` for training batches (``conf/transform``)."""

    def __init__(self, normalize: Steps = (), augment: Steps = ()) -> None:
        self.normalize = _steps(normalize)
        self.augment = _steps(augment)

    def __repr__(self) -> str:
        return f"Pipeline(normalize={self.normalize}, augment={self.augment})"

    def __bool__(self) -> bool:
        return bool(self.normalize or self.augment)

    def clip(self, clip: Clip, g: torch.Generator | None = None, train: bool = False) -> Clip:
        for t in self.normalize + (self.augment if train else []):
            clip = t(clip, g)
        return clip

    def __call__(
        self, batch: Batch, g: torch.Generator | None = None, train: bool = False, normalize: bool = True
    ) -> Batch:
        """Apply to each clip of ``batch`` and pad again (lengths may change). ``normalize=False`` for
        batches of a split that :meth:`prepare` already normalised."""
        steps = (self.normalize if normalize else []) + (self.augment if train else [])
        if not steps:
            return batch
        clips = []
        for i, n in enumerate(batch.lengths.tolist()):
            clip = Clip(batch.x[i, :n].float(), None if batch.point_mask is None else batch.point_mask[i, :n])
            for t in steps:
                clip = t(clip, g)
            clips.append(clip)
        return repad(batch, clips)

    def prepare(self, clips: ClipSet):
        """The split with ``normalize`` applied to every clip once, up front.

        Normalisation is deterministic, so doing it per batch would repeat the same work every
        epoch; and a step that changes lengths (TrimToHands) must run before the batch sampler
        groups clips by length. A split read from disk per batch (``data.cache=none``) is returned
        as it is and normalised batch by batch instead.
        """
        if not self.normalize or not isinstance(clips, ClipSet) or clips.normalized:
            return clips
        xs, masks = [], []
        for i in range(len(clips)):
            start, stop = int(clips.offsets[i]), int(clips.offsets[i + 1])
            mask = None if clips.mask_buffer is None else torch.from_numpy(np.asarray(clips.mask_buffer[start:stop]))
            clip = self.clip(Clip(torch.from_numpy(np.asarray(clips.buffer[start:stop], dtype=np.float32)), mask))
            xs.append(clip.x.numpy())
            masks.append(None if clip.mask is None else clip.mask.numpy())
        prepared = ClipSet.from_clips(
            xs,
            clips.gloss,
            clips.cat,
            clips.occluded,
            clips.names,
            None if clips.mask_buffer is None else masks,
            dtype=clips.buffer.dtype,
        )
        prepared.normalized = True
        return prepared


def repad(batch: Batch, clips: list[Clip]) -> Batch:
    """``batch`` with its clips replaced by ``clips`` (lengths may have changed), padded again where they are."""
    x, valid, mask = pad_clips([c.x for c in clips], None if clips[0].mask is None else [c.mask for c in clips])
    lengths = torch.tensor([len(c.x) for c in clips], dtype=torch.int64)  # on the host, as Batch.lengths always is
    return Batch(
        x=x,
        pad_mask=~valid,
        lengths=lengths,
        gloss=batch.gloss,
        cat=batch.cat,
        occluded=batch.occluded,
        index=batch.index,
        point_mask=mask,
    )

"""Where the signs are in a longer keypoint stream: the spans in which a hand is up.

Signers rest with their hands down between signs, where the hand tracker finds nothing (in FSL-105
a hand is detected in 96 % of the frames from a clip's first hand to its last, and in 3 % of its
first and last ten frames, the rest); ``TrimToHands`` uses the same fact inside one clip. A sign is
a run of frames with a detected hand; gaps shorter than ``close_gap_s`` (a hand lost for a moment)
stay inside it, and runs shorter than ``min_sign_s`` are noise. One rule, frame by frame
(:class:`OnlineSegmenter`), serves a recorded stream and a live camera alike: a sign is known to
have ended ``close_gap_s`` after its last hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from signlang.core.errors import ConfigError
from signlang.core.layout import LEFT_HAND, RIGHT_HAND

# The rule's settings, chosen on streams of FSL-105 training clips (docs/pages/streams.md).
CLOSE_GAP_S = 0.4  # a hand lost for less stays inside the sign; also how long after a sign it is reported
MIN_SIGN_S = 0.6  # a shorter run of hand frames is a hand passing through, not a sign
CONTEXT_S = 0.4  # rest frames either side given to the classifier with the sign


@dataclass(frozen=True)
class Segment:
    """A sign found in a stream: frames ``[start, stop)`` with a hand up, and the frames given to the
    classifier, ``[context_start, context_stop)``: the sign and up to ``context_s`` of rest either side."""

    start: int
    stop: int
    context_start: int
    context_stop: int


def hands_up(mask: np.ndarray) -> np.ndarray:
    """``[T]`` True where either hand was detected (``mask [T,78]``)."""
    return np.asarray(mask)[:, LEFT_HAND.start : RIGHT_HAND.stop].any(axis=1)


class OnlineSegmenter:
    """Feed one frame's "a hand is up" at a time; a sign comes back once it has ended.

    ``close_gap_s`` is both how long a hand may vanish inside a sign and how long after a sign's last
    hand it is reported (the latency of a live answer). ``context_s`` of frames before the sign are
    kept for the classifier as they arrive; the frames after it are the gap that closed it.
    """

    def __init__(
        self, fps: float, close_gap_s: float = CLOSE_GAP_S, min_sign_s: float = MIN_SIGN_S, context_s: float = CONTEXT_S
    ) -> None:
        if fps <= 0:
            raise ConfigError(f"the stream's frame rate must be > 0, got {fps}")
        if close_gap_s <= 0 or min_sign_s < 0 or context_s < 0:
            raise ConfigError("segments need close_gap_s > 0 and min_sign_s, context_s >= 0")
        self.fps = fps
        self.close_gap = max(1, math.ceil(close_gap_s * fps))
        self.min_sign = max(1, math.ceil(min_sign_s * fps))
        self.context = math.ceil(context_s * fps)
        self.frame = 0  # frames seen so far
        self.start: int | None = None  # the open sign's first hand frame
        self.last: int | None = None  # its latest hand frame
        self.previous_stop = 0  # where the last reported sign's context ended (contexts never overlap)

    def push(self, up: bool, t: int | None = None) -> Segment | None:
        """The next frame's "a hand is up"; returns the sign this frame closed, if any. ``t`` is the
        frame's place in the stream when frames can be missing (a live camera that dropped some:
        its time times the frame rate); by default, the frame after the last one pushed."""
        t = self.frame if t is None else int(t)
        if t < self.frame:
            raise ValueError(f"frames come in order: frame {t} after frame {self.frame - 1}")
        self.frame = t + 1
        if up:
            if self.start is None:
                self.start = t
            self.last = t
            return None
        if self.start is not None and t - self.last >= self.close_gap:
            return self._close(stop=min(self.frame, self.last + 1 + self.context))
        return None

    def flush(self) -> Segment | None:
        """The end of the stream: the sign still open, if any."""
        if self.start is None:
            return None
        return self._close(stop=min(self.frame, self.last + 1 + self.context))

    def _close(self, stop: int) -> Segment | None:
        start, last = self.start, self.last
        self.start = self.last = None
        if last + 1 - start < self.min_sign:
            return None
        segment = Segment(start, last + 1, max(self.previous_stop, start - self.context), stop)
        self.previous_stop = segment.context_stop
        return segment


def find_segments(mask: np.ndarray, fps: float, **settings) -> list[Segment]:
    """Every sign of a recorded stream (``mask [T,78]``), as a live camera would have found them."""
    segmenter = OnlineSegmenter(fps, **settings)
    found = [s for s in map(segmenter.push, hands_up(mask)) if s is not None]
    last = segmenter.flush()
    return found + ([last] if last is not None else [])


def regions(found: list[tuple[int, int]], total: int) -> list[tuple[int, int]]:
    """The stretch of a stream each found sign stands for: the stream cut halfway between
    consecutive signs, the first reaching back to the start and the last to the end (``total``
    frames). A stream made of whole clips is scored by matching these to the clips."""
    cuts = [0] + [(a[1] + b[0]) // 2 for a, b in zip(found, found[1:])] + [total]
    return [(cuts[i], cuts[i + 1]) for i in range(len(found))]


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Overlap of two frame spans ``[start, stop)`` over their union."""
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union else 0.0


def match(found: list[tuple[int, int]], truth: list[tuple[int, int]], threshold: float = 0.5) -> list[tuple[int, int]]:
    """Pairs ``(found index, truth index)``, each used once, with IoU >= ``threshold``, best overlaps first."""
    pairs = sorted(((-iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)))
    used_f, used_t, out = set(), set(), []
    for negative, i, j in pairs:
        if -negative < threshold:
            break
        if i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
            out.append((i, j))
    return sorted(out)

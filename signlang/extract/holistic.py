"""MediaPipe Holistic (``mediapipe==0.10.14``, ``model_complexity=1``, models inside the wheel)
mapped to signlang's 78-point layout, with short gaps filled."""

from __future__ import annotations

import re
import warnings

import numpy as np

from signlang.core.console import native_stderr
from signlang.core.layout import FACE, FACE_MESH_INDICES, LEFT_HAND, NUM_POINTS, POSE, RIGHT_HAND

# What MediaPipe's C++ code and TFLite print on every start (absl INFO/WARNING lines, TFLite's INFO),
# straight to file descriptor 2, past Python's logging.
NATIVE_NOISE = re.compile(r"^([IW]\d{4} |INFO: |WARNING: All log messages before absl::InitializeLog)")


def native_logs_filtered():
    """While MediaPipe runs, its absl and TFLite lines (hundreds per run) stay off the console, where
    they would bury the progress bar and the summary; an error or anything unexpected still passes."""
    return native_stderr(lambda line: not NATIVE_NOISE.match(line))


def import_mediapipe():
    """MediaPipe, without the protobuf deprecation warning its 0.10.x releases trigger on every frame."""
    warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
    import mediapipe

    return mediapipe


class HolisticTracker:
    """MediaPipe Holistic on one stream of frames, a frame at a time (it tracks from frame to frame):
    ``track(rgb) -> (points [156], mask [78])``. Use as a context manager; a video gets a fresh one.

    Pose points count as detected when their visibility is at least ``visibility``; hand and face
    points when MediaPipe found the hand or face.
    """

    def __init__(
        self, visibility: float = 0.5, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5
    ) -> None:
        self.visibility = visibility
        self.options = dict(
            min_detection_confidence=min_detection_confidence, min_tracking_confidence=min_tracking_confidence
        )
        self._holistic = None
        self._quiet = None

    def __enter__(self) -> HolisticTracker:
        mp = import_mediapipe()
        self._quiet = native_logs_filtered()
        self._quiet.__enter__()
        self._holistic = mp.solutions.holistic.Holistic(static_image_mode=False, model_complexity=1, **self.options)
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._holistic is not None:
                self._holistic.close()
        finally:
            self._holistic = None
            self._quiet.__exit__(*exc)

    def track(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One RGB frame ``[H,W,3]`` uint8 -> ``points [156]`` (x, y in [0, 1], 0 where not found) and ``mask [78]``."""
        points = np.zeros((NUM_POINTS, 2), dtype=np.float32)
        mask = np.zeros(NUM_POINTS, dtype=bool)
        result = self._holistic.process(frame)
        if result.pose_landmarks:
            for i, lm in zip(POSE, result.pose_landmarks.landmark[: len(POSE)]):
                if lm.visibility >= self.visibility:
                    points[i], mask[i] = (lm.x, lm.y), True
        for block, found in ((LEFT_HAND, result.left_hand_landmarks), (RIGHT_HAND, result.right_hand_landmarks)):
            if found:
                points[block.start : block.stop] = [(lm.x, lm.y) for lm in found.landmark]
                mask[block.start : block.stop] = True
        if result.face_landmarks:
            face = result.face_landmarks.landmark
            points[FACE.start : FACE.stop] = [(face[i].x, face[i].y) for i in FACE_MESH_INDICES]
            mask[FACE.start : FACE.stop] = True
        points = np.clip(points, 0.0, 1.0) * mask[:, None]
        return points.reshape(-1), mask


class HolisticKeypoints:
    """One video's keypoints: ``X [T,156]`` (x, y in [0, 1]) and ``mask [T,78]``, tracked by a fresh
    :class:`HolisticTracker`."""

    def __init__(
        self, visibility: float = 0.5, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5
    ) -> None:
        self.settings = dict(
            visibility=visibility,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def __call__(self, frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        points = np.zeros((len(frames), 2 * NUM_POINTS), dtype=np.float32)
        mask = np.zeros((len(frames), NUM_POINTS), dtype=bool)
        with HolisticTracker(**self.settings) as tracker:
            for t, frame in enumerate(frames):
                points[t], mask[t] = tracker.track(frame)
        return points, mask


def fill_gaps(x: np.ndarray, mask: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Linearly interpolate each point across runs of at most ``max_gap`` missing frames that have a
    detection on both sides; returns the filled arrays and how many point-frames were filled."""
    x, mask = x.copy(), mask.copy()
    points = x.reshape(len(x), NUM_POINTS, 2)
    filled = 0
    if max_gap < 1:
        return x, mask, 0
    for p in range(NUM_POINTS):
        seen = np.flatnonzero(mask[:, p])
        for a, b in zip(seen[:-1], seen[1:]):
            gap = b - a - 1
            if 0 < gap <= max_gap:
                w = (np.arange(1, gap + 1) / (gap + 1))[:, None]
                points[a + 1 : b, p] = points[a, p] * (1 - w) + points[b, p] * w
                mask[a + 1 : b, p] = True
                filled += int(gap)
    return points.reshape(len(x), -1), mask, filled

"""The ``occluded`` flag of a clip: a hand over the face for a share of its frames."""

from __future__ import annotations

import numpy as np

from signlang.core.layout import FACE, LEFT_HAND, NUM_POINTS, RIGHT_HAND

HEAD = range(0, 11)  # pose nose, eyes, ears, mouth: the head when the face mesh is lost


def _box(points: np.ndarray) -> np.ndarray | None:
    if len(points) == 0:
        return None
    return np.concatenate([points.min(0), points.max(0)])


def hand_over_face(
    x: np.ndarray, mask: np.ndarray, overlap: float = 0.3, min_fraction: float = 0.1, margin: float = 0.2
) -> tuple[int, float]:
    """``(occluded, share of frames)``: a frame counts when a detected hand's bounding box covers at
    least ``overlap`` of the face's box (face points, or the pose head points when the face mesh is
    lost, grown by ``margin`` of its size); the clip is occluded when at least ``min_fraction`` of
    its frames count. Frames without a face or without hands do not count."""
    points = x.reshape(len(x), NUM_POINTS, 2)
    hits = 0
    for t in range(len(x)):
        face_pts = points[t, FACE.start : FACE.stop][mask[t, FACE.start : FACE.stop]]
        if len(face_pts) < 3:
            face_pts = points[t, HEAD.start : HEAD.stop][mask[t, HEAD.start : HEAD.stop]]
        face = _box(face_pts)
        if face is None:
            continue
        size = face[2:] - face[:2]
        face = face + np.concatenate([-size, size]) * margin
        area = max(float(np.prod(face[2:] - face[:2])), 1e-9)
        for hand in (LEFT_HAND, RIGHT_HAND):
            box = _box(points[t, hand.start : hand.stop][mask[t, hand.start : hand.stop]])
            if box is None:
                continue
            inter = np.clip(np.minimum(face[2:], box[2:]) - np.maximum(face[:2], box[:2]), 0, None)
            if inter.prod() / area >= overlap:
                hits += 1
                break
    share = hits / max(len(x), 1)
    return int(share >= min_fraction), float(share)

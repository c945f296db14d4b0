"""The 78-point keypoint layout every keypoint file and model in signlang shares.

A frame is 78 points x (x, y), flattened point-major: ``X[t, 2*p]`` is the x of point ``p`` and
``X[t, 2*p + 1]`` its y, in image coordinates in [0, 1] (y grows downwards).
"""

from __future__ import annotations

POSE = range(0, 25)  # MediaPipe Pose landmarks 0-24 (upper body; legs dropped)
LEFT_HAND = range(25, 46)  # MediaPipe Hands, 21 points, wrist first
RIGHT_HAND = range(46, 67)
FACE = range(67, 78)  # FaceMesh landmarks listed in FACE_MESH_INDICES, in that order

FACE_MESH_INDICES = (1, 33, 263, 133, 362, 61, 291, 105, 334, 199, 4)
NUM_POINTS = 78
KEYPOINT_DIM = 2 * NUM_POINTS  # 156
FEATURE_DIM = 2048  # InceptionV3 pooled features per frame
ORDER = "pose25,left_hand21,right_hand21,face11"

# Pose landmarks that swap under a left-right mirror (MediaPipe numbering), and the face points
# (positions in our 11-point FaceMesh subset 1,33,263,133,362,61,291,105,334,199,4).
POSE_MIRROR_PAIRS = (
    (1, 4),
    (2, 5),
    (3, 6),
    (7, 8),
    (9, 10),
    (11, 12),
    (13, 14),
    (15, 16),
    (17, 18),
    (19, 20),
    (21, 22),
    (23, 24),
)
FACE_MIRROR_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8))


def mirror_order() -> tuple[int, ...]:
    """Point order of the mirrored signer: left and right hands, pose sides and face sides swap
    (``points[mirror_order()]`` is the same signer seen in a mirror, once x is mirrored too)."""
    perm = list(range(NUM_POINTS))
    for a, b in POSE_MIRROR_PAIRS + tuple((FACE.start + i, FACE.start + j) for i, j in FACE_MIRROR_PAIRS):
        perm[a], perm[b] = b, a
    perm[LEFT_HAND.start : LEFT_HAND.stop] = range(RIGHT_HAND.start, RIGHT_HAND.stop)
    perm[RIGHT_HAND.start : RIGHT_HAND.stop] = range(LEFT_HAND.start, LEFT_HAND.stop)
    return tuple(perm)


MIRROR = mirror_order()

# Pose landmarks used to anchor a signer's body.
NOSE, LEFT_SHOULDER, RIGHT_SHOULDER = 0, 11, 12
LEFT_WRIST, RIGHT_WRIST = 15, 16
LEFT_EYE, RIGHT_EYE, MOUTH_LEFT, MOUTH_RIGHT = 2, 5, 9, 10
LEFT_ELBOW, RIGHT_ELBOW = 13, 14
# The pose's own points of each hand (pinky, index and thumb knuckles), apart from the hand's 21.
LEFT_POSE_HAND, RIGHT_POSE_HAND = (17, 19, 21), (18, 20, 22)

FRAME_SIZE = 299  # a video frame as data=frames stores it (and InceptionV3 reads it): 299 x 299 RGB, uint8
FRAME_DIM = FRAME_SIZE * FRAME_SIZE * 3
# Width of the model input for each kind of data.
INPUT_DIMS = {"keypoints": KEYPOINT_DIM, "features": FEATURE_DIM, "frames": FRAME_DIM}
# The .npz array each kind is read from, and the one read instead when it is missing (an X that is
# 2048 wide holds features, as some extraction pipelines write them).
ARRAY_KEYS = {"keypoints": ("X", None), "features": ("X2048", "X")}

# What each kind of input is, and the data option that provides it (for messages that name the fix).
KIND_DESCRIPTIONS = {
    "keypoints": "keypoints [T,156] (78 points x (x, y))",
    "features": "per-frame InceptionV3 features [T,2048]",
    "frames": "video frames [T,3,299,299]",
}
DATA_FOR_KIND = {"keypoints": "data=keypoints", "features": "data=features", "frames": "data=frames"}


def detected_points(x):
    """``[T,78]`` where a point of keypoints ``x [T,156]`` was found, for clips stored without a
    ``mask``: extraction writes (0, 0) for a point it did not find."""
    return x.reshape(len(x), NUM_POINTS, 2).any(axis=-1)

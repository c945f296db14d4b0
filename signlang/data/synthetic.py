"""A learnable, deterministic stand-in for a sign dataset, generated in memory.

Each gloss is a distinct movement of the hands over a seated body: a Lissajous path of the
dominant hand (two-handed glosses mirror it with the other hand) with its own hand shape.
Categories group glosses by where the signing happens (forehead, chin, chest, ...), so the
category head has something real to learn. Every clip varies in length (speed), timing, body
position and scale, noise, and sometimes loses a hand for a stretch of frames (``occluded``=1,
points zero and ``mask`` False), as MediaPipe does when a hand crosses the face.

Per-frame "InceptionV3 features" are a fixed random projection of the keypoints plus noise, so
the IV3-GRU trains on the same motions without needing video.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signlang.core.errors import ConfigError
from signlang.core.layout import ARRAY_KEYS, FEATURE_DIM, INPUT_DIMS, NUM_POINTS, ORDER, RIGHT_HAND
from signlang.data.clips import ClipSet
from signlang.data.labels import LABEL_HEADER
from signlang.data.module import ClipData

# Resting body (x, y) in image coordinates for pose landmarks 0-24; elbows, wrists and the
# pose's hand points are overwritten from the hands each frame.
_POSE = np.array(
    [
        (0.50, 0.28),
        (0.52, 0.25),
        (0.53, 0.25),
        (0.54, 0.25),
        (0.48, 0.25),
        (0.47, 0.25),
        (0.46, 0.25),
        (0.56, 0.26),
        (0.44, 0.26),
        (0.52, 0.31),
        (0.48, 0.31),
        (0.60, 0.42),
        (0.40, 0.42),
        (0.65, 0.56),
        (0.35, 0.56),
        (0.62, 0.68),
        (0.38, 0.68),
        (0.62, 0.70),
        (0.38, 0.70),
        (0.62, 0.70),
        (0.38, 0.70),
        (0.61, 0.69),
        (0.39, 0.69),
        (0.57, 0.75),
        (0.43, 0.75),
    ]
)
# FaceMesh 1, 33, 263, 133, 362, 61, 291, 105, 334, 199, 4.
_FACE = np.array(
    [
        (0.50, 0.28),
        (0.465, 0.25),
        (0.535, 0.25),
        (0.485, 0.25),
        (0.515, 0.25),
        (0.48, 0.32),
        (0.52, 0.32),
        (0.47, 0.23),
        (0.53, 0.23),
        (0.50, 0.36),
        (0.50, 0.29),
    ]
)
# Where each category signs, for the dominant (image-left) hand.
_ANCHORS = np.array(
    [
        (0.46, 0.20),
        (0.47, 0.34),
        (0.44, 0.50),
        (0.30, 0.48),
        (0.44, 0.60),
        (0.36, 0.30),
        (0.52, 0.45),
        (0.32, 0.62),
        (0.50, 0.56),
        (0.40, 0.40),
    ]
)
_FINGER_ANGLES = np.deg2rad([-55.0, -18.0, 0.0, 14.0, 28.0])  # thumb..pinky, from "up"
_HAND_LENGTH = 0.09
_FREQS = (0.5, 1.0, 1.5, 2.0)
_PHASES = (0.0, 0.5 * np.pi, np.pi, 1.5 * np.pi)
_SPLIT_IDS = {"train": 1, "val": 2, "test": 3}


@dataclass(frozen=True)
class Gloss:
    """The definition of one synthetic sign."""

    cat: int
    freq: tuple[float, float]
    phase: float
    amplitude: tuple[float, float]
    fingers: np.ndarray  # [5] extension of thumb..pinky in [0, 1]
    two_handed: bool
    twist: float  # wrist rotation amplitude (radians)


def make_glosses(num_gloss: int, num_cat: int, seed: int) -> list[Gloss]:
    """Distinct gloss definitions; gloss g belongs to category ``g * num_cat // num_gloss``."""
    rng = np.random.default_rng([seed, 0])
    motions = list(itertools.product(_FREQS, _FREQS, _PHASES, range(32)))
    picks = rng.choice(len(motions), size=num_gloss, replace=False)
    glosses = []
    for g, pick in enumerate(picks):
        fx, fy, phase, shape = motions[pick]
        fingers = np.array([(shape >> k) & 1 for k in range(5)], dtype=float) * 0.8 + 0.2
        glosses.append(
            Gloss(
                cat=g * num_cat // num_gloss,
                freq=(fx, fy),
                phase=phase,
                amplitude=tuple(rng.uniform(0.04, 0.10, size=2)),
                fingers=fingers,
                two_handed=bool(rng.random() < 0.3),
                twist=float(rng.uniform(0.0, 0.6)),
            )
        )
    return glosses


def _hand(wrist: np.ndarray, angle: np.ndarray, fingers: np.ndarray, mirror: bool, scale: float) -> np.ndarray:
    """21 hand points [T, 21, 2] for a wrist path [T, 2] and an orientation per frame [T]."""
    side = -1.0 if mirror else 1.0
    pts = np.zeros((len(wrist), 21, 2))
    length = _HAND_LENGTH * scale
    for f, (base, ext) in enumerate(zip(_FINGER_ANGLES, fingers)):
        theta = angle + side * base
        root = (0.25 if f == 0 else 0.45) * length
        pos = np.stack([np.sin(theta), -np.cos(theta)], axis=-1) * root
        bend = side * (1.0 - ext) * np.deg2rad(75.0)
        for j in range(4):
            if j > 0:
                theta = theta + bend
                pos = pos + np.stack([np.sin(theta), -np.cos(theta)], axis=-1) * 0.16 * length
            pts[:, 1 + 4 * f + j] = pos
    return pts + wrist[:, None, :]


def make_clip(gloss: Gloss, length: int, rng: np.random.Generator, *, occlusion_rate: float, noise: float) -> dict:
    """One clip of ``gloss``: ``X [T,156]``, ``mask [T,78]`` and ``occluded`` (0/1)."""
    s = np.linspace(0.0, 1.0, length) ** rng.uniform(0.8, 1.25)  # uneven speed within the clip
    lead, tail = rng.uniform(0.0, 0.12, size=2)
    t = np.clip(-lead + (1.0 + lead + tail) * s, 0.0, 1.0)  # holds before/after the movement
    u = 2.0 * np.pi * t
    amp = np.asarray(gloss.amplitude) * rng.uniform(0.85, 1.15, size=2)
    anchor = _ANCHORS[gloss.cat % len(_ANCHORS)] + rng.normal(0.0, 0.01, size=2)
    path = np.stack([amp[0] * np.sin(gloss.freq[0] * u + gloss.phase), amp[1] * np.sin(gloss.freq[1] * u)], axis=-1)
    right_wrist = anchor + path + np.array([0.0, 0.06])
    angle = gloss.twist * np.sin(u + gloss.phase) + rng.normal(0.0, 0.05)
    right = _hand(right_wrist, angle, gloss.fingers, mirror=False, scale=1.0)
    if gloss.two_handed:
        left_wrist = right_wrist * np.array([-1.0, 1.0]) + np.array([1.0, 0.0])  # mirror about x = 0.5
        left = _hand(left_wrist, -angle, gloss.fingers, mirror=True, scale=1.0)
    else:
        rest = np.array([0.62, 0.70]) + rng.normal(0.0, 0.01, size=2)
        left = _hand(np.repeat(rest[None], length, 0), np.full(length, 0.3), np.full(5, 0.3), mirror=True, scale=0.9)

    pose = np.repeat(_POSE[None], length, 0)
    for wrist_i, elbow_i, shoulder_i, hand, out in ((16, 14, 12, right, -1.0), (15, 13, 11, left, 1.0)):
        pose[:, wrist_i] = hand[:, 0]
        pose[:, wrist_i + 2] = hand[:, 17]  # pinky
        pose[:, wrist_i + 4] = hand[:, 5]  # index
        pose[:, wrist_i + 6] = hand[:, 1]  # thumb
        pose[:, elbow_i] = 0.5 * (pose[:, shoulder_i] + hand[:, 0]) + np.array([0.07 * out, 0.07])
    face = np.repeat(_FACE[None], length, 0)
    points = np.concatenate([pose, left, right, face], axis=1)  # [T, 78, 2]

    center = np.array([0.5, 0.5])
    points = (points - center) * rng.uniform(0.85, 1.15) + center + rng.uniform(-0.06, 0.06, size=2)
    points += rng.normal(0.0, noise, size=points.shape)
    mask = np.ones((length, NUM_POINTS), dtype=bool)
    occluded = int(rng.random() < occlusion_rate)
    if occluded:
        span = max(1, int(length * rng.uniform(0.2, 0.5)))
        start = int(rng.integers(0, length - span + 1))
        mask[start : start + span, RIGHT_HAND.start : RIGHT_HAND.stop] = False
    points[~mask] = 0.0
    return {"X": points.reshape(length, 2 * NUM_POINTS).astype(np.float32), "mask": mask, "occluded": occluded}


def feature_projection(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed random map from a keypoint frame to a 2048-d non-negative 'InceptionV3' feature."""
    rng = np.random.default_rng([seed, 99])
    weight = rng.normal(0.0, 6.0 / np.sqrt(2 * NUM_POINTS), size=(2 * NUM_POINTS, FEATURE_DIM))
    bias = rng.normal(0.0, 0.3, size=FEATURE_DIM)
    return weight.astype(np.float32), bias.astype(np.float32)


def to_features(x: np.ndarray, projection: tuple[np.ndarray, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """``X2048 [T,2048]`` for keypoints ``X [T,156]``: ReLU of the projection, plus noise."""
    weight, bias = projection
    z = (x - 0.5) @ weight + bias
    z += rng.normal(0.0, 0.1, size=z.shape).astype(np.float32)
    return np.maximum(z, 0.0, dtype=np.float32)


def generate_split(
    glosses: list[Gloss],
    per_gloss: int,
    *,
    split: str,
    seed: int,
    min_len: int,
    max_len: int,
    occlusion_rate: float,
    noise: float,
    features: bool,
) -> list[dict]:
    """``per_gloss`` clips of every gloss, each a dict of X, mask, occluded, gloss, cat, name (+ X2048)."""
    rng = np.random.default_rng([seed, _SPLIT_IDS[split]])
    feature_rng = np.random.default_rng([seed, _SPLIT_IDS[split], 1])  # own stream: keypoints don't depend on it
    projection = feature_projection(seed) if features else None
    clips = []
    for i, (_, g) in enumerate(itertools.product(range(per_gloss), range(len(glosses)))):
        gloss = glosses[g]
        clip = make_clip(
            gloss, int(rng.integers(min_len, max_len + 1)), rng, occlusion_rate=occlusion_rate, noise=noise
        )
        if projection is not None:
            clip["X2048"] = to_features(clip["X"], projection, feature_rng)
        clip.update(gloss=g, cat=gloss.cat, name=f"{split}_{i:05d}")
        clips.append(clip)
    return clips


class SyntheticData(ClipData):
    """``data=synthetic``: in-memory clips from :func:`make_clip`, deterministic per ``seed``, of the
    width the model reads (``input_dim: ${model.input_dim}``): keypoints (156) or features (2048)."""

    def __init__(
        self,
        *,
        input_dim: int,
        num_gloss: int = 20,
        num_cat: int = 5,
        train_per_gloss: int = 32,
        val_per_gloss: int = 8,
        test_per_gloss: int = 8,
        min_len: int = 24,
        max_len: int = 48,
        occlusion_rate: float = 0.15,
        noise: float = 0.004,
        seed: int = 0,
        **common,
    ) -> None:
        if common.get("cache", "memory") not in ("memory", "device"):
            raise ConfigError(
                f"synthetic data is generated in memory: data.cache must be memory or device, got {common['cache']!r}"
            )
        kinds = {INPUT_DIMS[kind]: kind for kind in ARRAY_KEYS}  # keypoints or features
        if input_dim not in kinds:
            raise ConfigError(
                f"synthetic data comes as keypoints (156 wide) or features (2048), not {input_dim}: "
                "check model.input_dim"
            )
        super().__init__(kind=kinds[input_dim], num_gloss=num_gloss, num_cat=num_cat, **common)
        if num_cat > num_gloss:
            raise ConfigError(f"data.num_cat ({num_cat}) cannot exceed data.num_gloss ({num_gloss})")
        if not 1 <= min_len <= max_len:
            raise ConfigError(f"need 1 <= data.min_len <= data.max_len, got {min_len} and {max_len}")
        if min(train_per_gloss, val_per_gloss) < 1 or test_per_gloss < 0:
            raise ConfigError("data.train_per_gloss and data.val_per_gloss must be >= 1, test_per_gloss >= 0")
        self.per_gloss = {"train": train_per_gloss, "val": val_per_gloss, "test": test_per_gloss}
        self.options = dict(seed=seed, min_len=min_len, max_len=max_len, occlusion_rate=occlusion_rate, noise=noise)
        self.glosses = make_glosses(num_gloss, num_cat, seed)
        if not self.label_names:
            self.gloss_names = [f"gloss_{g:02d}" for g in range(num_gloss)]
            self.cat_names = [f"cat_{c}" for c in range(num_cat)]

    def available(self) -> list[str]:
        return [split for split, n in self.per_gloss.items() if n > 0]

    def _load_split(self, name: str) -> ClipSet:
        key = ARRAY_KEYS[self.kind][0]
        clips = generate_split(
            self.glosses, self.per_gloss[name], split=name, features=self.kind == "features", **self.options
        )
        return ClipSet.from_clips(
            [c[key] for c in clips],
            gloss=[c["gloss"] for c in clips],
            cat=[c["cat"] for c in clips],
            occluded=[c["occluded"] for c in clips],
            names=[c["name"] for c in clips],
            point_masks=[c["mask"] for c in clips] if key == "X" else None,
        )

    def export(self, root: str | Path, features: bool = True) -> Path:
        """Write the splits as ``.npz`` clips + CSVs in the seed layout (for tests and benchmarks)."""
        root = Path(root)
        for split in self.available():
            clips = generate_split(self.glosses, self.per_gloss[split], split=split, features=features, **self.options)
            write_npz_split(root, split, clips)
        return root


def write_npz_split(
    root: Path, split: str, clips: list[dict], write_files: bool = True, write_labels: bool = True
) -> None:
    """Write ``keypoints_<split>/<name>.npz`` (compressed, as the extraction pipeline does) and
    ``<split>_labels.csv``."""
    folder = root / f"keypoints_{split}"
    folder.mkdir(parents=True, exist_ok=True)
    if write_files:
        meta = json.dumps({"order": ORDER, "source": "signlang.data.synthetic"})
        for c in clips:
            arrays = {k: c[k] for k in ("X", "mask", "X2048") if k in c}
            np.savez_compressed(folder / f"{c['name']}.npz", **arrays, meta=np.array(meta))
    if write_labels:
        rows = [LABEL_HEADER] + [f"{c['name']}.npz,{c['gloss']},{c['cat']},{c['occluded']}" for c in clips]
        (root / f"{split}_labels.csv").write_text("\n".join(rows) + "\n")

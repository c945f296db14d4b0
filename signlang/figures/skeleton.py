"""Skeleton animations of keypoint clips: ``signlang render CLIP.npz --out clip.mp4|clip.gif``.

    signlang render clip.npz --out clip.gif
    signlang render clip.npz --out clip.mp4 --video clip.mov      # side by side with the source video

Pose, left hand, right hand and face are drawn in their own colours; a point that was not detected
is not drawn, and each frame says which parts are missing. The same frames are what ``signlang app``
plays, so a figure in a paper or a bug report shows exactly what the app showed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from signlang.core.errors import ConfigError, DataError
from signlang.core.layout import FACE, LEFT_HAND, NUM_POINTS, POSE, RIGHT_HAND, detected_points
from signlang.data.npz import read_clip

# Connections in the 78-point layout (MediaPipe's pose and hand topologies).
HAND_EDGES = [
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (0, 5),
    (5, 6),
    (6, 7),
    (7, 8),
    (5, 9),
    (9, 10),
    (10, 11),
    (11, 12),
    (9, 13),
    (13, 14),
    (14, 15),
    (15, 16),
    (13, 17),
    (0, 17),
    (17, 18),
    (18, 19),
    (19, 20),
]
POSE_EDGES = [
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 7),
    (0, 4),
    (4, 5),
    (5, 6),
    (6, 8),
    (9, 10),
    (11, 12),
    (11, 13),
    (13, 15),
    (15, 17),
    (15, 19),
    (15, 21),
    (17, 19),
    (12, 14),
    (14, 16),
    (16, 18),
    (16, 20),
    (16, 22),
    (18, 20),
    (11, 23),
    (12, 24),
    (23, 24),
]
PARTS = {  # name: (points, edges within the part, RGB)
    "pose": (POSE, POSE_EDGES, (90, 120, 200)),
    "left hand": (LEFT_HAND, HAND_EDGES, (230, 120, 30)),
    "right hand": (RIGHT_HAND, HAND_EDGES, (40, 170, 70)),
    "face": (FACE, [], (170, 60, 170)),
}
BACKGROUND = (250, 250, 250)


def draw_frame(
    points: np.ndarray,
    mask: np.ndarray,
    size: tuple[int, int] = (480, 360),
    label: str | None = None,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """One skeleton frame: ``points [78,2]`` in image coordinates ([0, 1]), ``mask [78]`` -> ``[H,W,3]``
    uint8; drawn over ``background`` (a camera picture, ``[H,W,3]`` uint8, which sets the size) if given."""
    if background is not None:
        image = Image.fromarray(np.ascontiguousarray(background))
        width, height = image.size
    else:
        width, height = size
        image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    xy = points * np.array([width, height])
    radius = max(2, width // 160)
    missing = []
    for name, (span, edges, colour) in PARTS.items():
        seen = mask[span.start : span.stop]
        if not seen.any():
            missing.append(name)
            continue
        local = xy[span.start : span.stop]
        for a, b in edges:
            if seen[a] and seen[b]:
                draw.line([tuple(local[a]), tuple(local[b])], fill=colour, width=max(1, radius // 2 + 1))
        for (x, y), ok in zip(local, seen):
            if ok:
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)
    status = "missing: " + ", ".join(missing) if missing else "all parts detected"
    text = f"{label + '  ' if label else ''}{status}"
    if background is not None:  # readable over any picture
        draw.rectangle([0, height - 20, 8 + 6 * len(text), height], fill=(0, 0, 0))
    draw.text((6, height - 16), text, fill=(230, 230, 230) if background is not None else (60, 60, 60))
    return np.asarray(image)


def clip_frames(x: np.ndarray, mask: np.ndarray | None = None, size: tuple[int, int] = (480, 360)) -> list[np.ndarray]:
    """Every frame of a keypoint clip ``x [T,156]`` (missing points: ``mask`` False, else exact zeros)."""
    if x.ndim != 2 or x.shape[1] != 2 * NUM_POINTS:
        raise DataError(f"a keypoint clip is [T, {2 * NUM_POINTS}]; this array is {list(x.shape)}")
    points = x.reshape(len(x), NUM_POINTS, 2)
    mask = detected_points(x) if mask is None else mask.astype(bool)
    return [draw_frame(points[t], mask[t], size, f"frame {t + 1}/{len(x)}") for t in range(len(x))]


def side_by_side(skeleton: list[np.ndarray], video: list[np.ndarray]) -> list[np.ndarray]:
    """Each skeleton frame beside the video frame shown at the same moment (the video resampled to the clip)."""
    picks = np.linspace(0, len(video) - 1, len(skeleton)).round().astype(int)
    out = []
    for frame, t in zip(skeleton, picks):
        source = Image.fromarray(video[t]).resize((frame.shape[1], frame.shape[0]))
        out.append(np.concatenate([np.asarray(source.convert("RGB")), frame], axis=1))
    return out


def gif_bytes(frames: list[np.ndarray], fps: float = 15.0) -> bytes:
    """An animated GIF that loops (what the app shows)."""
    images = [Image.fromarray(f) for f in frames]
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:], duration=max(20, round(1000 / fps)), loop=0
    )
    return buffer.getvalue()


def write_animation(frames: list[np.ndarray], out: Path, fps: float = 15.0) -> Path:
    """``out`` as .gif (Pillow) or .mp4 (OpenCV)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".gif":
        out.write_bytes(gif_bytes(frames, fps))
    elif out.suffix.lower() == ".mp4":
        import cv2

        height, width = frames[0].shape[:2]
        writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
    else:
        raise ConfigError(f"--out {out}: give a .mp4 or .gif file")
    return out


def load_keypoints(path: Path) -> tuple[np.ndarray, np.ndarray | None, float]:
    """``X``, ``mask`` and the frame rate (from ``meta``, else 30) of a keypoint clip."""
    arrays = read_clip(Path(path), "keypoints", "X")
    fps = 30.0
    with np.load(path, allow_pickle=False) as z:
        if "meta" in z.files:
            fps = float(json.loads(str(z["meta"])).get("target_fps") or fps)
    return arrays.x, arrays.mask, fps

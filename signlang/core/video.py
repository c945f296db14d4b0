"""Videos: which files are videos, their clip names, decoding at a target rate, and resizing frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from signlang.core.errors import DataError
from signlang.core.layout import FRAME_SIZE

# What signlang reads as a video (extraction, data=frames, predict, the app's upload box): OpenCV decodes them all.
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


class VideoError(DataError):
    """A video that cannot be opened or decoded."""


def clip_id(path: str | Path) -> str:
    """A video's clip name: its path below the data folder without the video suffix, folders joined by
    ``__`` (``clips/17/6.MOV``, ``clips\\17\\6.mov`` and ``clips__17__6`` are one clip)."""
    parts = [p for p in str(path).strip().replace("\\", "/").split("/") if p]
    stem = parts[-1]
    if Path(stem).suffix.lower() in VIDEO_SUFFIXES:
        stem = stem[: -len(Path(stem).suffix)]
    return "__".join([*parts[:-1], stem])


def find_videos(src: Path) -> list[Path]:
    """``src`` itself, or every video below it (sorted)."""
    if src.is_file():
        return [src]
    if not src.is_dir():
        raise DataError(f"no such video or folder: {src}")
    return sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def read_frames(path: Path, fps: float | None = 30.0) -> tuple[list[np.ndarray], np.ndarray, float]:
    """RGB frames sampled at ``fps`` (all frames when None or when the video is slower), their
    timestamps in ms, and the video's own frame rate. A frame is kept when its timestamp reaches the
    next multiple of 1000/fps ms, so gaps in the source stay gaps."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(f"{path.name}: cannot be opened (not a video, or corrupt)")
    source_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    frames, stamps = [], []
    step = 1000.0 / fps if fps else 0.0
    due = 0.0
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            t = index * 1000.0 / source_fps if source_fps > 0 else float(capture.get(cv2.CAP_PROP_POS_MSEC))
            index += 1
            if step and t + 1e-6 < due:
                continue
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            stamps.append(round(t))
            while step and due <= t + 1e-6:
                due += step
    finally:
        capture.release()
    if not frames:
        raise VideoError(f"{path.name}: no frame could be decoded (corrupt or empty video)")
    return frames, np.asarray(stamps, dtype=np.int64), source_fps


def resize_frames(images: torch.Tensor, size: int = FRAME_SIZE) -> torch.Tensor:
    """RGB images ``[N,H,W,3]`` uint8 -> ``[N,size,size,3]`` uint8, resized with antialiasing: how
    ``data=frames`` stores frames and what InceptionV3 reads (299 x 299)."""
    if tuple(images.shape[1:3]) == (size, size):
        return images
    x = torch.nn.functional.interpolate(
        images.permute(0, 3, 1, 2).float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)

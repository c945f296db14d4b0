"""Videos: which files are videos, their clip names, decoding at a target rate, and resizing frames."""

from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from signlang.core.console import native_stderr
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


# A line FFmpeg (inside OpenCV) writes to stderr, "[h264 @ 0x55d0...] Invalid NAL unit size"; the ones
# that mean lost or unreadable data. Other FFmpeg lines (notes on a container) do not make a clip partial.
FFMPEG_LINE = re.compile(r"^\[[^\]]+ @ 0x[0-9a-f]+\] ")
FFMPEG_DAMAGE = re.compile(r"error|invalid|corrupt|partial file|missing|truncat", re.IGNORECASE)


@dataclass
class Video:
    """What decoding a video gave: the frames kept at the target rate, and how complete the decoding was."""

    frames: list[np.ndarray]  # RGB, H x W x 3 uint8
    timestamps_ms: np.ndarray  # [T] int64
    source_fps: float
    expected_frames: int  # what the container says it holds (0 when it does not say)
    decoded_frames: int  # how many of them decoded
    decoder_messages: list[str] = field(default_factory=list)  # FFmpeg's own lines, kept off the console

    @property
    def partial(self) -> str | None:
        """Why the video decoded only in part (a truncated or damaged file), or None when it is whole.
        A container's frame count is often off by a frame or two, hence the tolerance."""
        damage = [line for line in self.decoder_messages if FFMPEG_DAMAGE.search(line)]
        short = self.expected_frames - self.decoded_frames > max(2, round(0.05 * self.expected_frames))
        if not (damage or short):
            return None
        stopped = f"decoding stopped after {self.decoded_frames} of {self.expected_frames} frames"
        what = stopped if short else f"{self.decoded_frames} frames decoded with errors"
        if damage:
            first = FFMPEG_LINE.sub("", damage[0]).strip().rstrip(".")
            what += f" (FFmpeg: {first}" + (f"; {len(damage)} such lines" if len(damage) > 1 else "") + ")"
        return what


def read_video(
    path: Path, fps: float | None = 30.0, capture: bool = True, frames: tuple[int, int] | None = None
) -> Video:
    """Decode ``path``, keeping RGB frames sampled at ``fps`` (all frames when None or when the video is
    slower). A frame is kept when its timestamp reaches the next multiple of 1000/fps ms, so gaps in the
    source stay gaps. ``frames``: only source frames ``first..last`` (1-based, inclusive; ``last`` -1:
    to the end), as datasets that cut several signs from one video give them; timestamps count from
    the first. FFmpeg's own messages go into the result, not onto the console (``capture``:
    redirecting file descriptor 2 is process-wide, so callers decoding in threads capture around all of
    them instead). A video that cannot be opened or yields no frame is a VideoError."""
    import cv2

    with native_stderr(lambda line: not FFMPEG_LINE.match(line)) if capture else nullcontext([]) as ffmpeg:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            capture.release()
            raise VideoError(f"{Path(path).name}: cannot be opened (not a video, or corrupt)")
        source_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        expected = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
        kept, stamps = [], []
        step = 1000.0 / fps if fps else 0.0
        due = 0.0
        index = 0
        first, last = (max(1, frames[0]), frames[1]) if frames else (1, -1)
        t0 = None
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                t = index * 1000.0 / source_fps if source_fps > 0 else float(capture.get(cv2.CAP_PROP_POS_MSEC))
                index += 1
                if index < first:
                    continue
                if 0 < last < index:
                    break
                t0 = t if t0 is None else t0
                t -= t0
                if step and t + 1e-6 < due:
                    continue
                kept.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                stamps.append(round(t))
                while step and due <= t + 1e-6:
                    due += step
        finally:
            capture.release()
    if not kept:
        where = f" in frames {first}..{last}" if frames else ""
        raise VideoError(f"{Path(path).name}: no frame could be decoded{where} (corrupt or empty video)")
    if frames:  # a range: what was asked for is what counts as expected
        expected = (min(expected, last) if last > 0 else expected) - first + 1
        index = index - first + 1 if not (0 < last < index) else last - first + 1
    return Video(kept, np.asarray(stamps, dtype=np.int64), source_fps, expected, index, list(ffmpeg))


def resize_frames(images: torch.Tensor, size: int = FRAME_SIZE) -> torch.Tensor:
    """RGB images ``[N,H,W,3]`` uint8 -> ``[N,size,size,3]`` uint8, resized with antialiasing: how
    ``data=frames`` stores frames and what InceptionV3 reads (299 x 299)."""
    if tuple(images.shape[1:3]) == (size, size):
        return images
    x = torch.nn.functional.interpolate(
        images.permute(0, 3, 1, 2).float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)

"""``data=frames``: videos decoded into frames, for InceptionV3GRU with its backbone trained end to end.

    python run.py model=iv3_gru model.backbone=inception_v3 model.pretrained=iv3.pt data=frames data.root=videos/

Each split is a folder of videos and a labels CSV ``file,gloss,cat[,occluded]`` whose ``file`` names
a video by its path below the folder, with or without its suffix, either separator (``clips/17/6.MOV``
and ``clips__17__6`` are the same clip, as ``signlang extract`` names it). Frames are sampled at
``fps`` and stored resized to 299x299 RGB, as uint8: 268 kB a frame, so a split of 1,000 clips of
20 frames takes 5 GB. This is the path for small sets and for checking the backbone end to end; for
real datasets extract the features once (``signlang extract --features``) and train on
``data=features``.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from signlang.core.console import native_stderr
from signlang.core.errors import ConfigError, DataError, summarize
from signlang.core.video import FFMPEG_LINE, clip_id, find_videos, read_video, resize_frames
from signlang.data.clips import ClipSet
from signlang.data.labels import label_problems, read_label_table
from signlang.data.module import ClipData, split_paths

log = logging.getLogger(__name__)


class FrameData(ClipData):
    """Splits of decoded video frames (``kind: frames``); paths as in ``data=keypoints``: a train or
    val path left null is ``<root>/videos_<split>`` and ``<root>/<split>_labels.csv``."""

    def __init__(
        self,
        *,
        root: str | None = None,
        train_dir: str | None = None,
        train_labels: str | None = None,
        val_dir: str | None = None,
        val_labels: str | None = None,
        test_dir: str | None = None,
        test_labels: str | None = None,
        fps: float = 10.0,
        load_workers: int = 2,
        **common,
    ) -> None:
        super().__init__(kind="frames", **common)
        if (test_dir is None) != (test_labels is None):
            raise ConfigError("set both data.test_dir and data.test_labels, or neither")
        if fps <= 0:
            raise ConfigError(f"data.fps must be > 0, got {fps}")
        self.paths = {
            "train": split_paths("train", root, "videos", train_dir, train_labels),
            "val": split_paths("val", root, "videos", val_dir, val_labels),
        }
        if test_dir is not None:
            self.paths["test"] = (test_dir, test_labels)
        self.fps = float(fps)
        self.load_workers = load_workers

    def available(self) -> list[str]:
        return list(self.paths)

    def _load_split(self, name: str) -> ClipSet:
        directory, labels = self.paths[name]
        return self.load(directory, labels)

    def load(self, directory: str | Path, labels: str | Path) -> ClipSet:
        """Decode every video ``labels`` names in ``directory`` into uint8 frames."""
        directory = Path(directory)
        if not directory.is_dir():
            raise DataError(f"video folder not found: {directory}. Point data.*_dir at a folder of videos")
        raw = read_label_table(labels)
        raw["file"] = raw["file"].map(clip_id)
        table, problems = label_problems(raw, labels, self.num_gloss, self.num_cat)
        if problems:
            raise DataError(summarize(problems, 3))
        videos = {clip_id(str(v.relative_to(directory))): v for v in find_videos(directory)}
        missing = [f for f in table["file"] if f not in videos]
        if missing:
            raise DataError(
                f"{labels} lists {len(missing)} video(s) not found in {directory}: {summarize(missing, sep=', ')}"
            )

        def decode(key: str) -> np.ndarray:
            video = read_video(videos[key], self.fps, capture=False)  # in threads: captured around them all
            if video.partial:
                log.warning("%s: %s; training on the frames that decoded", videos[key].name, video.partial)
            resized = resize_frames(torch.from_numpy(np.stack(video.frames)))
            return resized.reshape(len(video.frames), -1).numpy()

        # OpenCV decodes outside the GIL; FFmpeg's own lines stay off the console (a damaged video is named above)
        with (
            native_stderr(lambda line: not FFMPEG_LINE.match(line)),
            ThreadPoolExecutor(max(1, self.load_workers)) as pool,
        ):
            clips = list(pool.map(decode, table["file"]))
        return ClipSet.from_clips(
            clips, table["gloss"], table["cat"], table["occluded"], list(table["file"]), dtype=np.uint8
        )

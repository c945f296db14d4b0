"""data=frames: real videos decoded into frames, and InceptionV3GRU trained end to end through its backbone."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_app

from signlang.core.errors import DataError
from signlang.core.layout import FRAME_DIM
from signlang.core.video import clip_id
from signlang.data.frames import FrameData


@pytest.fixture
def videos(shared_data, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("file,gloss,cat\nFOOTBALL.mp4,0,0\nSOUP,1,1\ntest_video.MP4,2,1\n")  # any suffix, or none
    return shared_data / "videos", labels


def test_video_names_match_with_or_without_suffix_and_either_separator():
    assert clip_id("clips\\17\\6.MOV") == clip_id("clips/17/6.mov") == clip_id("clips__17__6") == "clips__17__6"


def test_videos_become_uint8_frames_at_the_chosen_rate(videos):
    folder, labels = videos
    data = FrameData(
        train_dir=str(folder),
        train_labels=str(labels),
        val_dir=str(folder),
        val_labels=str(labels),
        fps=5,
        num_gloss=3,
        num_cat=2,
        batch_size=2,
    )
    clips = data.split("train")
    assert (
        clips.names == ["FOOTBALL", "SOUP", "test_video"]
        and clips.buffer.dtype == np.uint8
        and clips.width == FRAME_DIM
    )
    assert clips.lengths[0] == pytest.approx(64 / 30 * 5, abs=1.5)  # FOOTBALL: 64 frames at 30 fps
    assert clips.buffer[:-1].std() > 10  # real pixels, not zeros
    batch = clips.batch([0, 1])
    assert batch.x.shape == (2, clips.lengths[:2].max(), FRAME_DIM) and batch.pad_mask[1, -1]


def test_a_missing_video_is_named(videos, tmp_path):
    folder, _ = videos
    labels = tmp_path / "bad.csv"
    labels.write_text("file,gloss,cat\nFOOTBALL,0,0\nnot_there.mp4,1,1\n")
    with pytest.raises(DataError, match="not_there"):
        FrameData(
            root=str(tmp_path),
            train_dir=str(folder),
            train_labels=str(labels),
            fps=5,
            num_gloss=3,
            num_cat=2,
            batch_size=2,
        ).split("train")


def test_iv3_gru_trains_end_to_end_on_video_frames(videos, tmp_path):
    folder, labels = videos
    result = run_app(
        "model=iv3_gru",
        "model.backbone=inception_v3",
        "model.pretrained=false",
        "model.hidden_sizes=[8]",
        "data=frames",
        f"data.train_dir={folder}",
        f"data.train_labels={labels}",
        f"data.val_dir={folder}",
        f"data.val_labels={labels}",
        "data.fps=3",
        "data.num_gloss=3",
        "data.num_cat=2",
        "trainer.max_epochs=1",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["final"]["split"] == "val" and summary["final"]["clips"] == 3

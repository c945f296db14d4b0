"""signlang render: one animation frame per clip frame, skeletons drawn, missing parts said to be missing."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_command, tiny_synthetic
from PIL import Image

from signlang.core.layout import LEFT_HAND, RIGHT_HAND
from signlang.figures.skeleton import BACKGROUND, PARTS, clip_frames, draw_frame


@pytest.fixture
def clip_file(tmp_path):
    root = tiny_synthetic(min_len=12, max_len=12).export(tmp_path / "data")
    return sorted((root / "keypoints_train").glob("*.npz"))[0]


def colour_pixels(frame: np.ndarray, part: str) -> int:
    return int((frame == np.array(PARTS[part][2], np.uint8)).all(-1).sum())


def test_gif_has_the_clips_frame_count_and_every_frame_shows_a_skeleton(clip_file, tmp_path):
    result = run_command("render", str(clip_file), "--out", str(tmp_path / "clip.gif"))
    assert result.returncode == 0, result.stdout + result.stderr
    gif = Image.open(tmp_path / "clip.gif")
    assert gif.n_frames == 12
    for i in range(gif.n_frames):
        gif.seek(i)
        frame = np.asarray(gif.convert("RGB"))
        assert (frame != np.array(BACKGROUND, np.uint8)).any(-1).mean() > 0.005  # not an empty canvas


def test_mp4_beside_the_source_video(tmp_path, shared_data):
    pytest.importorskip("cv2")
    import cv2

    clip = tmp_path / "soup.npz"
    points = np.random.default_rng(0).uniform(0.2, 0.8, size=(20, 78, 2)).astype(np.float32)
    np.savez(clip, X=points.reshape(20, -1), mask=np.ones((20, 78), bool))
    result = run_command(
        "render", str(clip), "--out", str(tmp_path / "soup.mp4"), "--video", str(shared_data / "videos" / "SOUP.mp4")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    video = cv2.VideoCapture(str(tmp_path / "soup.mp4"))
    assert (
        int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 20 and int(video.get(cv2.CAP_PROP_FRAME_WIDTH)) == 960
    )  # video | skeleton
    ok, frame = video.read()
    assert ok and frame[:, :480].std() > 10 and frame[:, 480:].std() > 10  # both halves have content


def test_parts_have_their_colours_and_missing_ones_are_not_drawn():
    points = np.random.default_rng(1).uniform(0.2, 0.8, size=(78, 2))
    mask = np.ones(78, bool)
    full = draw_frame(points, mask)
    assert all(colour_pixels(full, part) > 0 for part in PARTS)
    mask[LEFT_HAND.start : LEFT_HAND.stop] = False
    no_left = draw_frame(points, mask)
    assert colour_pixels(no_left, "left hand") == 0 and colour_pixels(no_left, "right hand") > 0
    zeros = np.zeros((3, 156), np.float32)
    zeros[:, 2 * RIGHT_HAND.start : 2 * RIGHT_HAND.stop] = 0.5  # only the right hand, found from non-zero points
    frames = clip_frames(zeros)
    assert len(frames) == 3 and colour_pixels(frames[0], "pose") == 0 and colour_pixels(frames[0], "right hand") > 0


def test_features_are_refused(tmp_path):
    clip = tmp_path / "f.npz"
    np.savez(clip, X=np.zeros((5, 2048), np.float32))
    result = run_command("render", str(clip), "--out", str(tmp_path / "f.gif"))
    assert result.returncode == 2 and "data=features" in result.stdout + result.stderr

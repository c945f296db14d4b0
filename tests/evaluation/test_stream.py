"""Signs in streams: a long .npz read sign by sign (table, JSON, CSV), and streams made of a split's
clips scored against the clips read one by one."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, run_command, with_rest

from signlang.evaluation.stream import make_streams, predict_stream

FAST = {"close_gap_s": 0.2, "min_sign_s": 0.1, "context_s": 0.2}  # the tiny clips are 6-12 frames at 30 fps
FAST_FLAGS = ["--close-gap", "0.2", "--min-sign", "0.1", "--context", "0.2"]


@pytest.fixture(scope="module")
def rested(trained_run, tmp_path_factory) -> Path:
    """The trained run's test clips with rest frames either side, and their labels."""
    out = tmp_path_factory.mktemp("rested")
    for f in sorted((trained_run["data"] / "keypoints_test").glob("*.npz")):
        with np.load(f) as z:
            x, mask = with_rest(z["X"], z["mask"])
        np.savez(out / f.name, X=x, mask=mask)
    shutil.copy(trained_run["data"] / "test_labels.csv", out / "labels.csv")
    return out


def test_a_long_recording_is_read_sign_by_sign(trained_run, rested, tmp_path):
    files = sorted(rested.glob("*.npz"))[:4]
    parts = [np.load(f) for f in files]
    x, mask = np.concatenate([p["X"] for p in parts]), np.concatenate([p["mask"] for p in parts])
    np.savez(tmp_path / "long.npz", X=x, mask=mask)
    result = predict_stream(str(trained_run["run"]), str(tmp_path / "long.npz"), top_k=3, device="cpu", **FAST)
    assert result["fps"] == 30.0 and result["frames"] == len(x)
    signs = result["signs"]
    assert len(signs) == 4
    bounds = np.cumsum([0] + [len(p["X"]) for p in parts])
    for sign, a, b in zip(signs, bounds, bounds[1:]):  # each sign inside its own clip, past its rest
        assert a + 15 <= sign["start_frame"] < sign["stop_frame"] <= b - 15
        assert sign["end_s"] == pytest.approx(sign["stop_frame"] / 30, abs=1e-3)
        assert len(sign["gloss"]) == 3 and sign["answer"] in ("unknown", sign["gloss"][0]["label"])

    shown = run_command(
        "predict",
        str(trained_run["run"]),
        str(tmp_path / "long.npz"),
        "--stream",
        "--csv",
        str(tmp_path / "signs.csv"),
        *FAST_FLAGS,
    )
    assert shown.returncode == 0, shown.stderr
    assert "4 sign(s)" in shown.stdout
    with open(tmp_path / "signs.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["start_frame"]) for r in rows] == [s["start_frame"] for s in signs]
    as_json = run_command(
        "predict", str(trained_run["run"]), str(tmp_path / "long.npz"), "--stream", "--json", *FAST_FLAGS
    )
    assert [s["start_frame"] for s in json.loads(as_json.stdout)["signs"]] == [s["start_frame"] for s in signs]


def test_csv_without_stream_is_refused(trained_run, rested):
    result = run_command("predict", str(trained_run["run"]), str(next(rested.glob("*.npz"))), "--csv", "x.csv")
    assert result.returncode == 2 and "--stream" in result.stderr


def test_streams_take_every_clip_once_per_round():
    streams = make_streams(50, np.random.default_rng(0), 3, 10, rounds=2)
    counts = np.bincount(np.concatenate(streams), minlength=50)
    assert (counts == 2).all()
    assert all(len(s) <= 10 for s in streams) and sum(len(s) < 3 for s in streams) <= 2


def test_streams_of_clips_are_found_and_read_like_the_clips(trained_run, rested, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run["run"], run)
    streams = ("evaluate", str(run), "--data-dir", str(rested), "--labels", str(rested / "labels.csv"), "--streams")
    result = run_command(*streams, "--stream-rounds", "3", *FAST_FLAGS)
    assert result.returncode == 0, result.stderr
    (report,) = (run / "eval").glob("*_streams")
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["true_signs"] == 3 * 12 and metrics["precision"] == 1.0 and metrics["recall"] == 1.0
    assert metrics["found_span_inside_its_clip"] == 1.0
    # the same clips read in a stream and alone: the model sees nearly the same frames
    assert abs(metrics["gloss_accuracy_matched"] - metrics["gloss_accuracy_alone_same_clips"]) <= 0.1
    with open(report / "signs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 36 and all(r["clip"] for r in rows)
    live = run_command(
        *streams,
        "--live-fps",
        "15",
        *FAST_FLAGS,
    )  # the camera's path: half the frames
    assert live.returncode == 0, live.stderr
    metrics = json.loads((run / "eval" / f"{report.name}_2" / "metrics.json").read_text())
    assert metrics["read"] == "live, 15 frames a second" and metrics["recall"] == 1.0 and metrics["precision"] == 1.0


@pytest.mark.skipif(
    not (SHARED / "videos" / "test_video.mp4").is_file(), reason="../shared/data/videos is not available"
)
def test_a_video_of_two_signs_is_read_as_two(trained_run, tmp_path):
    """A real signer twice in a row (hands down between): extracted as the run's clips were, two signs."""
    import cv2

    from signlang.core.video import read_video

    frames = read_video(SHARED / "videos" / "test_video.mp4", 30.0).frames
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(tmp_path / "two.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (width, height))
    for frame in list(frames) * 2:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    result = predict_stream(str(trained_run["run"]), str(tmp_path / "two.mp4"), device="cpu")
    assert result["frames"] == 2 * len(frames) and len(result["signs"]) == 2
    first, second = result["signs"]
    assert first["end_s"] <= len(frames) / 30 <= second["start_s"]  # one sign per playing

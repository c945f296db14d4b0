"""signlang extract on real signing videos: shapes, detection rates, timestamps, features, bad videos."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import SHARED, run_app, run_command

from signlang.data.validate import validate
from signlang.extract.holistic import fill_gaps
from signlang.extract.labels import LabelMap
from signlang.extract.occlusion import hand_over_face
from signlang.extract.pipeline import Options, extract

pytest.importorskip("mediapipe")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    if not (SHARED / "videos").is_dir():
        pytest.skip("../shared/data/videos is not available")
    src = tmp_path_factory.mktemp("videos")
    for video in (SHARED / "videos").glob("*.mp4"):
        shutil.copy(video, src / video.name)
    (src / "broken.mp4").write_bytes(b"not really a video")
    out = tmp_path_factory.mktemp("clips")
    options = Options(keypoints=True, features=True, random_weights=True, fps=15.0)
    records = extract(src, out, options, workers=2, labels=r"(?P<gloss>FOOTBALL|SOUP|test_video)(?P<cat>)")
    return src, out, records


def test_every_good_video_becomes_a_clip_and_the_bad_one_is_skipped(extracted):
    _, out, records = extracted
    status = {r["file"]: r["status"] for r in records}
    assert status == {
        "FOOTBALL.npz": "extracted",
        "SOUP.npz": "extracted",
        "test_video.npz": "extracted",
        "broken.npz": "failed",
    }
    assert "cannot be opened" in next(r["error"] for r in records if r["status"] == "failed")
    assert not (out / "broken.npz").exists()


def test_arrays_timestamps_and_detection(extracted):
    _, out, _ = extracted
    for name, frames in (("FOOTBALL", 64), ("SOUP", 41), ("test_video", 58)):
        with np.load(out / f"{name}.npz", allow_pickle=False) as z:
            x, mask, x2048, ts = z["X"], z["mask"], z["X2048"], z["timestamps_ms"]
            meta = json.loads(str(z["meta"]))
        assert x.shape == (len(ts), 156) and mask.shape == (len(ts), 78) and x2048.shape == (len(ts), 2048)
        assert x.dtype == np.float32 and mask.dtype == bool and np.isfinite(x2048).all()
        assert abs(len(ts) - frames / 2) <= 2  # 30 fps video sampled at 15 fps
        assert np.all(np.diff(ts) > 0) and ts[0] == 0 and abs(np.diff(ts).mean() - 1000 / 15) < 10
        assert np.all(x.reshape(-1, 78, 2)[~mask] == 0) and 0 <= x.min() and x.max() <= 1
        assert meta["order"] == "pose25,left_hand21,right_hand21,face11" and meta["model_complexity"] == 1
    with np.load(out / "FOOTBALL.npz") as z:
        mask = z["mask"]
    assert mask[:, :13].mean() > 0.9  # head and shoulders in (nearly) every frame
    assert mask[:, 25:67].any(axis=1).mean() > 0.8  # a hand in most frames
    assert mask[:, 67:].mean() > 0.9  # the face


def test_labels_skeleton_and_validation(extracted):
    _, out, _ = extracted
    lines = (out / "labels.csv").read_text().splitlines()
    assert lines[0] == "file,gloss,cat,occluded" and len(lines) == 4
    assert lines[1].startswith("FOOTBALL.npz,FOOTBALL,,")  # gloss from the pattern; ids are the user's to set
    numbered = out / "numbered.csv"
    numbered.write_text(
        "file,gloss,cat,occluded\n"
        + "".join(f"{row.split(',')[0]},{i},0,{row.split(',')[3]}\n" for i, row in enumerate(lines[1:]))
    )
    report = validate(out, numbered, require_x2048=True, num_gloss=3, num_cat=1)
    assert report.clean, [f.message for f in report.errors]


def test_already_extracted_clips_are_skipped(extracted):
    src, out, _ = extracted
    before = (out / "SOUP.npz").stat().st_mtime_ns
    records = extract(src / "SOUP.mp4", out, Options(keypoints=True, fps=15.0))
    assert records[0]["status"] == "skipped" and (out / "SOUP.npz").stat().st_mtime_ns == before


@pytest.fixture(scope="module")
def extracted_runs(extracted, tmp_path_factory):
    """One short run per model kind, trained on the extracted clips."""
    _, out, _ = extracted
    base = tmp_path_factory.mktemp("runs")
    labels = base / "labels.csv"
    labels.write_text("file,gloss,cat,occluded\nFOOTBALL.npz,0,0,0\nSOUP.npz,1,0,0\ntest_video.npz,2,1,1\n")
    runs = {}
    for data in ("keypoints", "features"):
        model = "transformer" if data == "keypoints" else "iv3_gru"
        result = run_app(
            f"model={model}",
            f"data={data}",
            f"data.train_dir={out}",
            f"data.val_dir={out}",
            f"data.train_labels={labels}",
            f"data.val_labels={labels}",
            "data.num_gloss=3",
            "data.num_cat=2",
            "trainer=smoke",
            f"hydra.run.dir={base / data}",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        runs[data] = base / data
    return runs


def test_extracted_clips_train_and_the_run_records_how_they_were_extracted(extracted_runs):
    from signlang.runs.checkpoints import load_checkpoint

    state = load_checkpoint(extracted_runs["features"] / "checkpoints" / "InceptionV3GRU_best.pt")
    assert state["extraction"]["target_fps"] == 15.0 and state["extraction"]["iv3_weights"] == "random"


@pytest.mark.parametrize("data", ["keypoints", "features"])
def test_predict_from_a_video_extracts_it_as_the_run_was_trained(extracted_runs, data, tmp_path):
    saved = tmp_path / "saved"
    result = run_command(
        "predict",
        str(extracted_runs[data]),
        str(SHARED / "videos" / "FOOTBALL.mp4"),
        "--json",
        "--save-npz",
        str(saved),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (prediction,) = json.loads(result.stdout)
    assert prediction["gloss"][0]["label"] in {"0", "1", "2"} and 0 < prediction["gloss"][0]["confidence"] <= 1
    with np.load(saved / "FOOTBALL.npz") as z:
        assert abs(len(z["X"]) - 64 / 2) <= 2  # at the run's 15 fps, not the default 30
        assert ("X2048" in z.files) == (data == "features")


def test_a_video_with_nobody_in_it_gets_a_message_not_a_prediction(extracted_runs, tmp_path):
    import cv2

    empty = tmp_path / "empty_room.mp4"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"mp4v"), 15, (320, 240))
    for _ in range(15):
        writer.write(np.full((240, 320, 3), 90, np.uint8))
    writer.release()
    result = run_command("predict", str(extracted_runs["keypoints"]), str(empty), str(SHARED / "videos" / "SOUP.mp4"))
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "no person found" in out and "SOUP.mp4" in out and "Traceback" not in out


def test_features_offline_without_cached_weights_say_where_to_put_them(tmp_path, monkeypatch):
    import urllib.error

    import torch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    result = run_command("extract", str(SHARED / "videos" / "SOUP.mp4"), "--out", str(tmp_path / "o"), "--features")
    out = result.stdout + result.stderr
    assert result.returncode == 2 and "Traceback" not in out
    assert (
        str(tmp_path / "torch" / "hub" / "checkpoints" / "inception_v3_google-0cc3c7bd.pth") in out
        and "--iv3-weights" in out
    )


def test_gap_filling_and_occlusion_flag():
    x = np.zeros((6, 156), np.float32)
    mask = np.zeros((6, 78), bool)
    mask[[0, 3], 5] = True
    x[0, 10:12], x[3, 10:12] = (0.1, 0.1), (0.4, 0.7)
    filled_x, filled_mask, n = fill_gaps(x, mask, max_gap=2)
    assert n == 2 and filled_mask[:4, 5].all() and not filled_mask[4:, 5].any()
    np.testing.assert_allclose(filled_x[1, 10:12], [0.2, 0.3], rtol=1e-6)
    assert fill_gaps(x, mask, max_gap=1)[2] == 0  # a gap of 2 is longer than 1: left missing

    face = np.zeros((10, 78, 2), np.float32)
    mask = np.zeros((10, 78), bool)
    face[:, 67:78] = np.random.default_rng(0).uniform(0.45, 0.55, size=(11, 2))
    mask[:, 67:78] = True
    face[:4, 46:67] = np.random.default_rng(1).uniform(0.44, 0.56, size=(21, 2))  # right hand over the face, 4 frames
    mask[:4, 46:67] = True
    occluded, share = hand_over_face(face.reshape(10, -1), mask, overlap=0.3, min_fraction=0.3)
    assert occluded == 1 and share == pytest.approx(0.4)
    assert hand_over_face(face.reshape(10, -1), mask, min_fraction=0.5)[0] == 0


def test_label_map_from_csv(tmp_path):
    csv = tmp_path / "map.csv"
    csv.write_text("file,gloss,cat\nclip_a.mp4,3,1\n")
    labels = LabelMap(str(csv))
    assert labels("clip_a") == ("3", "1") and labels("other") == ("", "")


def test_the_console_shows_progress_and_summary_and_nothing_from_mediapipe(tmp_path, capfd, shared_data):
    import io

    from rich.console import Console

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    records = extract(
        shared_data / "videos", tmp_path / "out", Options(keypoints=True, fps=10.0), workers=2, console=console
    )
    assert all(r["status"] == "extracted" for r in records)
    shown = screen.getvalue()
    assert "extract" in shown and "3/3" in shown and "signlang extract ->" in shown  # the bar, then the summary
    native = capfd.readouterr()  # what went straight to the file descriptors, past Python
    noise = (
        "W0000",
        "inference_feedback_manager",
        "TensorFlow Lite",
        "absl::InitializeLog",
        "GetPrototype",
        "protobuf",
    )
    assert not [line for line in (native.err + native.out).splitlines() if any(n in line for n in noise)]


def test_a_truncated_video_is_named_as_partial_and_ffmpeg_stays_off_the_console(tmp_path, capfd, shared_data):
    """A good video and the first 20 KB of another: the summary names the cut one ("partial: decoding
    stopped after 13 of 64 frames"), FFmpeg's own lines never reach the console, and --skip-partial
    leaves the clip out."""
    src = tmp_path / "videos"
    src.mkdir()
    shutil.copy(shared_data / "videos" / "SOUP.mp4", src)
    (src / "FOOTBALL_cut.mp4").write_bytes((shared_data / "videos" / "FOOTBALL.mp4").read_bytes()[:20_000])
    capfd.readouterr()
    written = run_command("extract", str(src), "--out", str(tmp_path / "all"), "--fps", "10", "--workers", "2")
    native = capfd.readouterr()
    shown = written.stdout + written.stderr + native.out + native.err
    assert written.returncode == 0
    assert (
        "partial FOOTBALL_cut.mp4: decoding stopped after 13 of 64 frames (FFmpeg: Invalid NAL unit size"
        in " ".join(shown.split())
    )
    assert "@ 0x" not in shown  # FFmpeg's own "[h264 @ 0x55d0...]" lines
    with np.load(tmp_path / "all" / "FOOTBALL_cut.npz") as z:
        meta = json.loads(str(z["meta"]))
    assert (meta["decoded_frames"], meta["expected_frames"]) == (13, 64) and meta["partial"].startswith(
        "decoding stopped"
    )
    with np.load(tmp_path / "all" / "SOUP.npz") as z:
        assert json.loads(str(z["meta"]))["partial"] is None  # a whole video is not partial
    skipped = run_command("extract", str(src), "--out", str(tmp_path / "whole"), "--fps", "10", "--skip-partial")
    assert skipped.returncode == 0 and "not written (--skip-partial)" in " ".join(
        (skipped.stdout + skipped.stderr).split()
    )
    assert sorted(p.name for p in (tmp_path / "whole").glob("*.npz")) == ["SOUP.npz"]
    assert "FOOTBALL_cut" not in (tmp_path / "whole" / "labels.csv").read_text()

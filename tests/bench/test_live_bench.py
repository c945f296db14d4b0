"""``python -m signlang.bench --live``: a real video played to the live worker (MediaPipe in its own
process) finds the signs in it and reports its figures (the figures themselves are the benchmark's)."""

from __future__ import annotations

import json

import pytest
from conftest import SHARED

from signlang.bench.live import main

VIDEO = SHARED / "videos" / "test_video.mp4"


@pytest.mark.skipif(not VIDEO.is_file(), reason="../shared/data/videos is not available")
def test_the_live_benchmark_plays_a_video_to_the_worker(trained_run, tmp_path):
    out = tmp_path / "live.json"
    assert (
        main(
            [
                "--run",
                str(trained_run["run"]),
                "--video",
                str(VIDEO),
                "--repeat",
                "2",
                "--fps",
                "15",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    (result,) = json.loads(out.read_text())
    assert result["live_fps"] == 15 and result["frames_played"] == 2 * 58
    assert result["processed"] + result["dropped"] == result["submitted"] > 0
    assert result["extract_ms"]["median"] > 0 and result["latency_s"] is not None
    assert len(result["signs"]) == 2  # one signer, one sign per playing, hands down between

"""The live path without a browser: keypoints a frame at a time become signs as they end, frames
the camera or the worker dropped leave gaps instead of faster signs, and memory stays bounded."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import with_rest

from signlang.evaluation.evaluate import load_run
from signlang.evaluation.live import LiveRecognizer, resample

FAST = {"close_gap_s": 0.2, "min_sign_s": 0.1, "context_s": 0.2}


def test_resample_interpolates_in_time_and_keeps_what_was_missing_missing():
    x = np.zeros((3, 156), np.float32)
    x[:, 0] = [0.0, 1.0, 2.0]
    mask = np.ones((3, 78), bool)
    mask[2, 1] = False
    out, seen = resample(x, mask, np.array([0.0, 0.1, 0.2]), fps=20.0)
    assert np.allclose(out[:, 0], [0.0, 0.5, 1.0, 1.5, 2.0])
    assert seen[:, 0].all() and seen[:2, 1].all() and not seen[3:, 1].any()
    uneven, _ = resample(x, mask, np.array([0.0, 0.15, 0.2]), fps=20.0)  # a dropped frame: a longer step
    assert np.allclose(uneven[:, 0], [0.0, 1 / 3, 2 / 3, 1.0, 2.0])


@pytest.fixture(scope="module")
def stream(trained_run):
    """Four of the run's test clips with rest either side, end to end: ``(x, mask, clip bounds)``."""
    parts = []
    for f in sorted((trained_run["data"] / "keypoints_test").glob("*.npz"))[:4]:
        with np.load(f) as z:
            parts.append(with_rest(z["X"], z["mask"]))
    bounds = np.cumsum([0] + [len(p[0]) for p in parts])
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), bounds


@pytest.mark.parametrize("every", [1, 2])
def test_signs_come_as_they_end_also_when_frames_are_dropped(trained_run, stream, every):
    x, mask, bounds = stream
    recognizer = LiveRecognizer(load_run(trained_run["run"]), fps=30.0, **FAST)
    found, kept = [], []
    for t in range(0, len(x), every):  # every other frame lost: the same signs, at the same times
        sign = recognizer.push(x[t], mask[t], arrived=t / 30.0)
        kept.append(len(recognizer.frames))
        if sign is not None:
            found.append((t, sign))
    last = recognizer.flush()
    assert last is None  # the stream ends at rest: every sign was already reported
    assert len(found) == 4
    for (t, sign), a, b in zip(found, bounds, bounds[1:]):
        assert a <= sign.start < sign.stop <= b  # placed by time, inside its own clip
        assert sign.stop <= t <= sign.stop + 0.2 * 30 + every  # reported close_gap after the hands went down
        assert sign.answer["gloss"][0]["label"] and sign.latency_s is not None
    assert max(kept) <= 12 + 15 + 6 + 2  # one clip's frames and a context, never the whole stream

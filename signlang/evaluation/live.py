"""Signs from a camera as they are made: frames in, keypoints out at once, each sign's gloss as soon
as it has ended (the app's camera mode, ``python -m signlang.bench --live``).

:class:`LiveRecognizer` turns one frame's keypoints at a time into signs with the same segmenter a
recorded stream uses: a sign is known to have ended ``close_gap_s`` after the hands went down, and
is then gap-filled, resampled to the frame rate the run's clips were extracted at, and classified.
:class:`LiveWorker` runs MediaPipe and the recognizer in a process of their own (a fresh
interpreter, talked to over a local socket), so the web server and the camera's video stay
responsive; it takes a frame only when it is free (a camera faster than the worker loses frames,
never time) and counts what it had to drop.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import Any

import numpy as np

from signlang.core.errors import ConfigError
from signlang.data.segments import CLOSE_GAP_S, CONTEXT_S, MIN_SIGN_S, OnlineSegmenter, Segment, hands_up
from signlang.evaluation.evaluate import LoadedRun, load_run
from signlang.evaluation.predict import answers, classify, clip_set
from signlang.extract.holistic import HolisticTracker, fill_gaps
from signlang.extract.pipeline import Options

log = logging.getLogger(__name__)
LIVE_FPS = 15.0  # frames a second the camera path keeps up with on 2 cores (python -m signlang.bench --live)
IN_FLIGHT = 2  # frames handed to the worker and not yet read: one being read, one waiting (absorbs jitter)
KEY_VARIABLE = "SIGNLANG_LIVE_KEY"  # how the worker learns the key its connection is checked with


def resample(x: np.ndarray, mask: np.ndarray, times_s: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Frames taken at ``times_s`` (seconds; a live camera's are uneven, and some are dropped) as
    frames every ``1/fps`` s, the rate the run's clips were extracted at: each point interpolated in
    time where the frames either side saw it, missing otherwise."""
    times_s = np.asarray(times_s, dtype=np.float64)
    if len(x) < 2 or times_s[-1] <= times_s[0]:
        return x, mask
    n = int(math.floor((times_s[-1] - times_s[0]) * fps + 1e-6)) + 1
    t = times_s[0] + np.arange(n) / fps
    lo = np.clip(np.searchsorted(times_s, t, side="right") - 1, 0, len(x) - 1)
    hi = np.minimum(lo + 1, len(x) - 1)
    span = times_s[hi] - times_s[lo]
    w = np.where(span > 0, (t - times_s[lo]) / np.where(span > 0, span, 1), 0.0)[:, None, None]
    points = x.reshape(len(x), -1, 2)
    seen = mask[lo] & mask[hi]
    out = (points[lo] * (1 - w) + points[hi] * w) * seen[..., None]
    return out.reshape(n, -1).astype(np.float32), seen


@dataclass
class LiveSign:
    """A sign found live: frames ``[start, stop)`` of the stream, the answer, and when it came."""

    start: int
    stop: int
    start_s: float
    end_s: float
    answer: dict[str, Any]
    latency_s: float | None = None  # from the first frame after the sign (hands down) to the answer
    model_ms: float = 0.0
    hands_down_at: float | None = None  # time.monotonic() when that frame arrived (the same clock in every process)
    shown_s: float | None = None  # from then to when the app first showed the answer (set by the app)


class LiveRecognizer:
    """Keypoints in, one frame at a time; a :class:`LiveSign` out once a sign has ended.

    Only the frames of the sign still open (and ``context_s`` before it) are kept, so it runs for
    hours in constant memory. Frames are placed by their arrival time, so a dropped frame is a gap
    (filled as extraction fills one), not a sign made faster.
    """

    def __init__(
        self,
        run: LoadedRun,
        fps: float = LIVE_FPS,
        device: str = "cpu",
        top_k: int = 5,
        close_gap_s: float = CLOSE_GAP_S,
        min_sign_s: float = MIN_SIGN_S,
        context_s: float = CONTEXT_S,
    ) -> None:
        if run.model.input_kind != "keypoints":
            raise ConfigError(f"the live path reads keypoints; {run.path} is a {run.model.input_kind} model")
        self.run, self.fps, self.device, self.top_k = run, fps, device, top_k
        self.segmenter = OnlineSegmenter(fps, close_gap_s, min_sign_s, context_s)
        settings = run.state.get("extraction") or {}
        run_fps = run.fps
        # gap filling as the run's clips had it, in this stream's frames
        self.max_gap = int(round(settings.get("interpolation_max_gap", Options().max_gap) * fps / run_fps))
        self.frames: deque[tuple[int, np.ndarray, np.ndarray, float]] = deque()  # (tick, points, mask, arrived)
        self.t0: float | None = None

    def push(self, points: np.ndarray, mask: np.ndarray, arrived: float | None = None) -> LiveSign | None:
        """The next frame's ``points [156]`` and ``mask [78]`` (``arrived``: its ``time.monotonic()``).
        Its place in the stream is its time: frames the camera or the worker dropped leave gaps."""
        arrived = time.monotonic() if arrived is None else arrived
        self.t0 = arrived if self.t0 is None else self.t0
        tick = max(self.segmenter.frame, int(round((arrived - self.t0) * self.fps)))
        self.frames.append((tick, points, mask, arrived))
        segment = self.segmenter.push(bool(hands_up(mask[None])[0]), tick)
        sign = self._read(segment) if segment is not None else None
        self._forget()
        return sign

    def flush(self) -> LiveSign | None:
        """The end of the stream: the sign still open, if any."""
        segment = self.segmenter.flush()
        return self._read(segment) if segment is not None else None

    def _forget(self) -> None:
        """Drop frames no future sign can need: before the open sign's context (or the last context)."""
        s = self.segmenter
        oldest = max((s.start if s.start is not None else s.frame) - s.context - 1, s.previous_stop)
        while self.frames and self.frames[0][0] < oldest:
            self.frames.popleft()

    def _read(self, segment: Segment) -> LiveSign:
        started = time.perf_counter()
        window = [f for f in self.frames if segment.context_start <= f[0] < segment.context_stop]
        x, mask = np.stack([f[1] for f in window]), np.stack([f[2] for f in window])
        times = np.array([f[3] for f in window])
        x, mask, _ = fill_gaps(x, mask, self.max_gap)
        x, mask = resample(x, mask, times, self.run.fps)
        (answer,) = answers(self.run, classify(self.run, clip_set([x], [mask], ["live"]), self.device), self.top_k)
        after = [f[3] for f in self.frames if f[0] >= segment.stop]  # the first frame seen with the hands down
        return LiveSign(
            segment.start,
            segment.stop,
            round(segment.start / self.fps, 3),
            round(segment.stop / self.fps, 3),
            answer,
            time.monotonic() - after[0] if after else None,
            1000 * (time.perf_counter() - started),
            after[0] if after else None,
        )


# --------------------------------------------------------------------------------- the worker
@dataclass
class LiveStats:
    """What the worker has done: frames it took and dropped, and how long a frame took."""

    submitted: int = 0
    dropped: int = 0
    processed: int = 0
    extract_ms: list[float] = field(default_factory=list)
    model_ms: list[float] = field(default_factory=list)
    latency_s: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def stat(v: list[float]) -> dict[str, float] | None:
            if not v:
                return None
            return {"median": float(np.median(v)), "p95": float(np.percentile(v, 95)), "max": float(max(v))}

        return {
            "submitted": self.submitted,
            "dropped": self.dropped,
            "processed": self.processed,
            "extract_ms": stat(self.extract_ms),
            "model_ms": stat(self.model_ms),
            "latency_s": stat(self.latency_s),
        }


def serve(address: str, run_dir: str, checkpoint: str, fps: float, settings: dict[str, float]) -> None:
    """The worker process (``python -m signlang.evaluation.live``): listen on ``address``, load the
    run and MediaPipe, then track and recognise frames until told to stop or the app goes away."""
    import torch

    torch.set_num_threads(1)  # one core for the model and MediaPipe; the other serves the camera
    with Listener(address, family="AF_UNIX", authkey=bytes.fromhex(os.environ.pop(KEY_VARIABLE))) as listener:
        conn = listener.accept()
    try:
        run = load_run(run_dir, checkpoint, "cpu")
        recognizer = LiveRecognizer(run, fps, **settings)
        extraction = run.state.get("extraction") or {}
        tracker = HolisticTracker(extraction.get("conf_thresh", Options().visibility)).__enter__()
    except Exception as e:  # the page says why, instead of waiting for ever
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", {"glosses": len(run.gloss_names), "rejection": run.rejector is not None}))
    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):  # the app is gone
                return
            if request is None:
                sign = recognizer.flush()
                if sign is not None:
                    conn.send(("sign", sign))
                conn.send(("stopped", None))
                return
            frame, arrived = request
            started = time.perf_counter()
            points, mask = tracker.track(frame)
            extract_ms = 1000 * (time.perf_counter() - started)
            sign = recognizer.push(points, mask, arrived)
            conn.send(("frame", (points, mask, extract_ms)))
            if sign is not None:
                conn.send(("sign", sign))
    finally:
        tracker.__exit__(None, None, None)
        conn.close()


class LiveWorker:
    """MediaPipe and the recognizer in a process of their own (a fresh interpreter: a web server's
    threads and script are never copied into it): :meth:`submit` a frame whenever one comes (taken
    when the live rate asks for one and fewer than ``IN_FLIGHT`` are waiting), :meth:`poll` for the
    newest keypoints and the signs found. Use as a context manager."""

    def __init__(self, run_dir: str, checkpoint: str = "best", fps: float = LIVE_FPS, **settings: float) -> None:
        self.fps = fps
        self._folder = tempfile.TemporaryDirectory(prefix="signlang-live-")
        self.address = str(Path(self._folder.name) / "worker.sock")
        self._key = secrets.token_bytes(16)
        self._args = [str(run_dir), checkpoint, str(fps), json.dumps(settings)]
        self.process: subprocess.Popen | None = None
        self._conn = None
        self._lock = threading.Lock()  # the camera's thread and the page's both talk to the worker
        self.stats = LiveStats()
        self.signs: list[LiveSign] = []
        self.keypoints: tuple[np.ndarray, np.ndarray] | None = None
        self.ready: dict[str, Any] | None = None
        self.error: str | None = None
        self.in_flight = 0
        self.stopped = False
        self._last_taken = -math.inf

    def __enter__(self) -> LiveWorker:
        env = {**os.environ, KEY_VARIABLE: self._key.hex()}
        command = [sys.executable, "-m", "signlang.evaluation.live", self.address, *self._args]
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _connection(self):
        """The worker's connection, once it listens (None until then)."""
        if self._conn is None and self.alive() and os.path.exists(self.address):
            try:
                self._conn = Client(self.address, family="AF_UNIX", authkey=self._key)
            except OSError:
                return None
        if self._conn is None and self.process is not None and not self.alive() and self.error is None:
            self.error = f"the worker exited with status {self.process.returncode} before it started"
        return self._conn

    def wait_ready(self, timeout: float = 120.0) -> dict[str, Any]:
        """Block until the worker has loaded the run and MediaPipe (a few seconds); raises on failure."""
        deadline = time.monotonic() + timeout
        while self.ready is None and self.error is None and time.monotonic() < deadline:
            self.poll(block=0.1)
        if self.error or self.ready is None:
            raise RuntimeError(f"the live worker did not start: {self.error or 'timed out'}")
        return self.ready

    def submit(self, frame: np.ndarray, arrived: float | None = None) -> bool:
        """Offer an RGB frame; False when it is not taken: it comes sooner than the live rate needs
        (a 30 fps camera gives every other frame), or the worker is still busy (a drop)."""
        now = time.monotonic() if arrived is None else arrived
        self.poll()
        if now - self._last_taken < 0.75 / self.fps:
            return False
        if self.ready is None:
            return False  # still starting: the page says so
        self.stats.submitted += 1
        if self.in_flight >= IN_FLIGHT or self._conn is None:
            self.stats.dropped += 1
            return False
        self._last_taken = now
        self.in_flight += 1
        with self._lock:
            self._conn.send((np.ascontiguousarray(frame), now))
        return True

    def poll(self, block: float = 0.0) -> None:
        """Take in what the worker has sent: the newest ``keypoints``, and ``signs`` as they end."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                if block:
                    time.sleep(block)
                return
            while True:
                try:
                    if not conn.poll(block):
                        return
                    kind, payload = conn.recv()
                except (EOFError, OSError):
                    self.error = self.error or "the worker stopped"
                    self._conn = None
                    return
                block = 0.0
                self._take(kind, payload)
                if kind == "stopped":
                    return

    def _take(self, kind: str, payload: Any) -> None:
        if kind == "frame":
            points, mask, extract_ms = payload
            self.keypoints = (points, mask)
            self.in_flight = max(0, self.in_flight - 1)
            self.stats.processed += 1
            self.stats.extract_ms.append(extract_ms)
        elif kind == "sign":
            self.signs.append(payload)
            self.stats.model_ms.append(payload.model_ms)
            if payload.latency_s is not None:
                self.stats.latency_s.append(payload.latency_s)
        elif kind == "ready":
            self.ready = payload
        elif kind == "error":
            self.error = payload
        elif kind == "stopped":
            self.stopped = True

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker; the sign still open is read first and lands in ``signs``."""
        if self.process is None:
            return
        if self.alive() and self._conn is not None:
            try:
                with self._lock:
                    self._conn.send(None)
            except OSError:
                pass
            deadline = time.monotonic() + timeout
            while not self.stopped and self.alive() and time.monotonic() < deadline:
                self.poll(block=0.1)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self.alive():
            self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._folder.cleanup()


if __name__ == "__main__":  # the worker LiveWorker starts
    from signlang.evaluation import live  # this module by its own name: what it sends unpickles in the app

    live.serve(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), json.loads(sys.argv[5]))

"""The live camera path, timed: ``python -m signlang.bench --live --run RUN [--video V] [--fps 15 30]``.

A video is played to the live worker as a camera would: its frames at the camera's rate
(``--camera-fps``, in real time), each offered to :class:`signlang.evaluation.live.LiveWorker`,
which takes one whenever the live rate asks for it and it is free. Prints, per live rate: the time
MediaPipe takes per frame, the model's time per sign, how many of the frames the rate asked for
were read and how many dropped (the worker was still busy), and the time from the end of each sign
(the first frame with the hands down) to its answer. The default video is one real signer
(``../shared/data/videos/test_video.mp4``, hands down before and after the sign) played
``--repeat`` times.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from signlang.core.paths import REPO_ROOT
from signlang.core.video import read_video
from signlang.evaluation.live import LiveWorker

DEFAULT_VIDEO = REPO_ROOT.parent / "shared" / "data" / "videos" / "test_video.mp4"


def play(run: str, frames: list[np.ndarray], camera_fps: float, fps: float, checkpoint: str) -> dict:
    """Play ``frames`` to a fresh worker at ``camera_fps`` in real time; the worker's figures."""
    with LiveWorker(run, checkpoint, fps=fps) as worker:
        started = time.monotonic()
        ready = worker.wait_ready()
        load_s = time.monotonic() - started
        start = time.monotonic()
        for i, frame in enumerate(frames):
            due = start + i / camera_fps
            time.sleep(max(0.0, due - time.monotonic()))
            worker.submit(frame, arrived=time.monotonic())
        wall = time.monotonic() - start
        worker.close()
        summary = worker.stats.summary()
        asked = summary["submitted"]
        summary.update(
            live_fps=fps,
            camera_fps=camera_fps,
            frames_played=len(frames),
            seconds=round(wall, 2),
            worker_start_s=round(load_s, 2),
            read_share=summary["processed"] / asked if asked else None,
            keeps_up=bool(asked and summary["dropped"] <= 0.05 * asked),
            signs=[s.answer["answer"] for s in worker.signs],
            rejection=ready["rejection"],
        )
        return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m signlang.bench --live", description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a trained keypoint run folder")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--video", default=str(DEFAULT_VIDEO), help="what the camera sees")
    parser.add_argument("--repeat", type=int, default=3, help="play the video this many times in a row")
    parser.add_argument("--camera-fps", type=float, default=30.0)
    parser.add_argument("--fps", type=float, nargs="+", default=[15.0, 30.0], help="live rates to try")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    video = read_video(Path(args.video), args.camera_fps)
    frames = list(video.frames) * args.repeat
    console = Console()
    console.print(
        f"{Path(args.video).name}: {len(video.frames)} frames x {args.repeat} at {args.camera_fps:g} fps "
        f"({len(frames) / args.camera_fps:.1f} s), run {Path(args.run).name}"
    )
    results = [play(args.run, frames, args.camera_fps, fps, args.checkpoint) for fps in args.fps]
    table = Table(
        "live fps",
        "MediaPipe ms/frame (median, p95)",
        "model ms/sign",
        "frames read / asked",
        "dropped",
        "keeps up",
        "sign end -> answer s (median, max)",
        "signs",
        title="live camera path",
    )
    for r in results:
        e, m, lat = r["extract_ms"], r["model_ms"], r["latency_s"]
        table.add_row(
            f"{r['live_fps']:g}",
            f"{e['median']:.0f}, {e['p95']:.0f}" if e else "-",
            f"{m['median']:.0f}" if m else "-",
            f"{r['processed']} / {r['submitted']}",
            f"{r['dropped']} ({100 * r['dropped'] / max(1, r['submitted']):.0f}%)",
            "yes" if r["keeps_up"] else "no",
            f"{lat['median']:.2f}, {lat['max']:.2f}" if lat else "-",
            ", ".join(r["signs"]) or "-",
        )
    console.print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0

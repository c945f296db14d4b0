"""``signlang render CLIP.npz --out clip.gif|clip.mp4 [--video clip.mov]``: a skeleton animation of a
keypoint clip, optionally beside its source video."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from signlang.core.video import read_video
from signlang.figures.skeleton import clip_frames, load_keypoints, side_by_side, write_animation


def run(args: argparse.Namespace) -> int:
    x, mask, fps = load_keypoints(Path(args.clip))
    size, video = (args.width, args.height), None
    if args.video:
        video = read_video(Path(args.video), None).frames
        size = (args.width, round(args.width * video[0].shape[0] / video[0].shape[1]))  # the video's aspect
    frames = clip_frames(x, mask, size)
    if video is not None:
        frames = side_by_side(frames, video)
    out = write_animation(frames, Path(args.out), args.fps or fps)
    Console(stderr=True).print(f"{len(frames)} frames -> {out}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("clip", help="a keypoint clip (.npz with X [T,156], and mask)")
    parser.add_argument("--out", required=True, help="clip.mp4 or clip.gif")
    parser.add_argument("--video", help="the source video, shown beside the skeleton")
    parser.add_argument("--fps", type=float, help="frames per second (default: the clip's own rate)")
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=360)
    return parser

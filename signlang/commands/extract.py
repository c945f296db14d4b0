"""``signlang extract SRC --out DIR [--keypoints] [--features] [--workers N] [--labels CSV|REGEX]``:
videos to ``.npz`` clips (keypoints, InceptionV3 features, occlusion flags) and a labels CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

from signlang.extract.labels import LabelMap
from signlang.extract.pipeline import Options, extract


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("src", help="a video or a folder of videos (searched recursively)")
    parser.add_argument("--out", required=True, help="folder for the .npz clips and labels.csv")
    add_extraction_arguments(parser)
    parser.add_argument(
        "--labels",
        help="a labels CSV (file,gloss,cat, or see --label-columns), "
        "or a regex with (?P<gloss>..) and (?P<cat>..) on clip names",
    )
    parser.add_argument("--label-columns", help="the CSV's own columns, e.g. file=vid_path,gloss=id_label,cat=category")
    parser.add_argument(
        "--label-names", help="a names CSV id,label,category: gloss and category given by name become ids"
    )
    return parser


def add_extraction_arguments(parser: argparse.ArgumentParser) -> None:
    """How videos become clips (``signlang extract`` and ``signlang import``)."""
    parser.add_argument(
        "--keypoints", action="store_true", help="X [T,156] + mask [T,78] with MediaPipe Holistic (default)"
    )
    parser.add_argument("--features", action="store_true", help="X2048 [T,2048] with InceptionV3")
    parser.add_argument("--fps", type=float, default=30.0, help="frames kept per second, by timestamp (0: every frame)")
    parser.add_argument("--workers", type=int, default=1, help="videos processed in parallel")
    parser.add_argument(
        "--max-gap", type=int, default=5, help="fill missing points across gaps of at most this many frames"
    )
    parser.add_argument(
        "--visibility", type=float, default=0.5, help="pose points below this visibility count as missing"
    )
    parser.add_argument(
        "--iv3-weights",
        help="a local inception_v3 state dict for --features (default: torchvision's ImageNet weights, cached)",
    )
    parser.add_argument("--random-weights", action="store_true", help="random InceptionV3 weights (tests only)")
    parser.add_argument("--overwrite", action="store_true", help="extract again clips that already exist")
    parser.add_argument(
        "--skip-partial",
        action="store_true",
        help="leave out a video that decodes only in part (truncated or damaged); by default it is written and named",
    )
    parser.add_argument(
        "--occlusion-overlap",
        type=float,
        default=0.3,
        help="hand box covering this share of the face box: an occluded frame",
    )
    parser.add_argument(
        "--occlusion-frames", type=float, default=0.1, help="share of occluded frames that makes a clip occluded"
    )


def extraction_options(args: argparse.Namespace) -> Options:
    return Options(
        keypoints=args.keypoints or not args.features,
        features=args.features,
        fps=args.fps or None,
        max_gap=args.max_gap,
        visibility=args.visibility,
        iv3_weights=args.iv3_weights,
        random_weights=args.random_weights,
        overwrite=args.overwrite,
        skip_partial=args.skip_partial,
        occlusion_overlap=args.occlusion_overlap,
        occlusion_frames=args.occlusion_frames,
    )


def run(args: argparse.Namespace) -> int:
    labels = LabelMap(args.labels, args.label_columns, args.label_names)
    records = extract(Path(args.src), Path(args.out), extraction_options(args), max(1, args.workers), labels)
    return (
        1 if any(r["status"] == "failed" for r in records) and not any(r["status"] != "failed" for r in records) else 0
    )

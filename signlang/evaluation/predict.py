"""Predict the gloss and category of clips with a trained run.

    signlang predict RUN_DIR FILE.npz [FILE.npz ...] [--top-k 5] [--json] [--checkpoint best|last]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from signlang.data.clips import ClipSet
from signlang.data.layout import ARRAY_KEYS
from signlang.data.npz import read_clip
from signlang.errors import ConfigError, DataError
from signlang.evaluation.evaluate import load_run
from signlang.evaluation.report import predict_probs
from signlang.runtime import resolve_device


def read_inputs(files: list[str], kind: str, key: str, fallback_key: str | None) -> ClipSet:
    """The clips to predict, read and checked the way the run's data was (same key, same width)."""
    clips, masks, names = [], [], []
    for file in files:
        path = Path(file)
        if not path.is_file():
            raise DataError(f"no such file: {path}")
        try:
            arrays = read_clip(path, kind, key, fallback_key)
        except DataError as e:
            raise DataError(f"{e} (this model reads {kind} from {key!r})") from None
        clips.append(arrays.x)
        masks.append(arrays.mask)
        names.append(path.name)
    zeros = [0] * len(clips)
    with_masks = masks if all(m is not None for m in masks) else None
    return ClipSet.from_clips(clips, gloss=zeros, cat=zeros, occluded=zeros, names=names, point_masks=with_masks)


def top(probs: np.ndarray, names: list[str], k: int) -> list[dict[str, Any]]:
    order = np.argsort(-probs)[:k]
    return [{"label": names[i], "id": int(i), "confidence": float(probs[i])} for i in order]


def predict_files(run_dir: str, files: list[str], top_k: int = 5, checkpoint: str = "best", device: str = "auto") -> list[dict[str, Any]]:
    """One dict per file: the top-k glosses and categories with their confidences."""
    dev = resolve_device(device)
    run = load_run(run_dir, checkpoint, dev)
    kind = run.model.input_kind
    if kind not in ARRAY_KEYS:
        raise ConfigError(f"this run's model reads {kind}; signlang predict takes .npz clips of keypoints or features")
    key, fallback = ARRAY_KEYS[kind]  # a run trained on .npz files reads them as it did (data.key)
    key, fallback = run.config.data.get("key", key), run.config.data.get("fallback_key", fallback)
    clips = read_inputs(files, kind, key, fallback)
    gloss_probs, cat_probs = predict_probs(run.model, clips, dev, transform=run.transform)
    return [
        {"file": str(file), "gloss": top(g, run.gloss_names, top_k), "category": top(c, run.cat_names, top_k)}
        for file, g, c in zip(files, gloss_probs, cat_probs)
    ]


def run_predict(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    results = predict_files(args.run_dir, args.files, args.top_k, args.checkpoint, args.device)
    if args.json:  # plain JSON on stdout, for other programs
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
        return 0
    table = Table("file", "gloss", "conf", f"top {args.top_k}", "category", "conf", title=f"predictions of {Path(args.run_dir).name}")
    for r in results:
        best, cat = r["gloss"][0], r["category"][0]
        others = ", ".join(f"{g['label']} {g['confidence']:.2f}" for g in r["gloss"][1:])
        table.add_row(Path(r["file"]).name, best["label"], f"{best['confidence']:.3f}", others, cat["label"], f"{cat['confidence']:.3f}")
    console.print(table)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run_dir", help="a run folder")
    parser.add_argument("files", nargs="+", metavar="FILE.npz")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--device", default="auto")
    return parser

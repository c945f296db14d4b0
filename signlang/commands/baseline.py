"""``signlang baseline [overrides] [--frames 32] [--json]``: the 1-nearest-neighbour baseline on the data
a config trains on (the overrides of ``python run.py``)."""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from rich.console import Console
from rich.table import Table

from signlang.core.errors import ConfigError
from signlang.core.paths import CONF_DIR
from signlang.evaluation.baseline import nearest_neighbour
from signlang.runs.folder import register_resolvers


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=list(args.overrides))
    start = time.perf_counter()
    data = instantiate(cfg.data, transform=instantiate(cfg.transform))
    if data.kind != "keypoints":
        raise ConfigError("signlang baseline compares keypoint clips; use data=keypoints (or a keypoint experiment)")
    split = "test" if "test" in data.available() else "val"
    train, test = data.prepared("train"), data.prepared(split)  # normalised as training normalises them
    with torch.no_grad():
        report = nearest_neighbour(train, test, data.num_gloss, data.num_cat, args.frames)
    result = {
        "split": split,
        "clips": len(test),
        "gloss_acc": report["gloss"]["top1"],
        "gloss_top5": report["gloss"]["top5"],
        **({"cat_acc": report["category"]["top1"]} if "category" in report else {}),
        "seconds": round(time.perf_counter() - start, 1),
    }
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    console.print(f"1-nearest-neighbour on {split} ({len(train)} training clips, resampled to {args.frames} frames)")
    table = Table(show_header=False)
    for key, value in result.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("overrides", nargs="*", help="the overrides of python run.py (experiment=..., data.*=...)")
    parser.add_argument("--frames", type=int, default=32, help="frames each clip is resampled to (default 32)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser

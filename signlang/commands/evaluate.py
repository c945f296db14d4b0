"""``signlang evaluate RUN_DIR [--split test|val|train] [--checkpoint best|last] [--data-dir DIR --labels CSV]``:
score a run's checkpoint again, from the run folder alone, into a new ``eval/<split>/`` (an earlier
report is never overwritten)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from signlang.core.errors import ConfigError
from signlang.evaluation.evaluate import evaluate_checkpoint, load_run
from signlang.evaluation.report import TOP_K
from signlang.training.runtime import resolve_device


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    device = resolve_device(args.device)
    run = load_run(args.run_dir, args.checkpoint, device)
    data = run.data()
    if args.data_dir or args.labels:
        if not (args.data_dir and args.labels):
            raise ConfigError("give both --data-dir and --labels to evaluate on other data")
        if not hasattr(data, "load"):
            raise ConfigError(
                "this run trained on synthetic data; --data-dir needs a run trained with data=keypoints/features"
            )
        clips = data.load(args.data_dir, args.labels)
        batches = data.eval_loader(clips)
        name = Path(args.data_dir).name
    else:
        split = args.split or ("test" if "test" in data.available() else "val")
        clips = data.split(split)
        if clips is None:
            raise ConfigError(f"the run has no {split} split; use --split val or --data-dir/--labels")
        batches = data.eval_loader(split)
        name = split
    if args.checkpoint != "best":
        name = f"{name}_{args.checkpoint}"
    result = evaluate_checkpoint(
        run.path,
        run.model,
        clips,
        batches,
        checkpoint=run.checkpoint_path,
        name=name,
        gloss_names=run.gloss_names,
        cat_names=run.cat_names,
        device=device,
    )
    table = Table(title=f"{run.path.name}: {name}", show_header=False)
    for key in ("clips", "epoch", "gloss_acc", f"gloss_top{TOP_K}", "gloss_macro_f1", "cat_acc", "report"):
        value = result[key]
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run_dir", help="a run folder (experiments/runs/<run> or a sweep job)")
    parser.add_argument("--split", choices=["test", "val", "train"], help="default: test if the run has one, else val")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--data-dir", help="evaluate on another folder of .npz clips ...")
    parser.add_argument("--labels", help="... with this labels CSV")
    parser.add_argument("--device", default="auto")
    return parser

"""``signlang split DATA_DIR LABELS.csv --out OUT [--val 0.15] [--test 0.15] [--group-by signer] [--link]``:
train/val/test in the seed layout, stratified by gloss, whole groups per split; clips with identical
content in different splits are reported as leakage (exit status 1)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from signlang.data.split import split_dataset
from signlang.data.stratify import SPLITS


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("data_dir", help="folder of .npz clips")
    parser.add_argument("labels", help="labels CSV file,gloss,cat,occluded (+ a group column)")
    parser.add_argument("--out", required=True, help="where to write the seed layout")
    parser.add_argument("--val", type=float, default=0.15)
    parser.add_argument("--test", type=float, default=0.15)
    parser.add_argument("--group-by", help="column whose values never span two splits (e.g. signer)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--link", action="store_true", help="hard-link (or symlink) the clips instead of copying them")
    return parser


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    result = split_dataset(
        Path(args.data_dir), Path(args.labels), Path(args.out), args.val, args.test, args.group_by, args.seed, args.link
    )
    table = Table(
        "split", "clips", "glosses", *(["groups"] if result["groups"] else []), title=f"signlang split -> {args.out}"
    )
    for s in SPLITS:
        table.add_row(
            s,
            str(result["counts"][s]),
            str(result["glosses"][s]),
            *([str(result["groups"][s])] if result["groups"] else []),
        )
    console.print(table)
    for leak in result["leaks"]:
        console.print(
            "[red]leakage:[/] identical clips in different splits: " + ", ".join(f"{f} ({s})" for f, s in leak)
        )
    for dup in result["duplicates"]:
        console.print("[yellow]duplicate:[/] identical clips: " + ", ".join(f"{f} ({s})" for f, s in dup))
    return 1 if result["leaks"] else 0

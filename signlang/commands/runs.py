"""``signlang runs [ROOT] [--sort KEY] [--filter KEY=VALUE ...] [--last N] [--csv FILE]``: a table of
every run and sweep job under ROOT (default ``experiments/``); in a sweep folder, mean ± std over seeds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from signlang.runs.table import SORT_KEYS, collect, render, render_groups, seed_groups, select, write_csv


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "root",
        nargs="?",
        default="experiments",
        help="experiments folder, a sweep folder or a run (default: experiments)",
    )
    parser.add_argument("--sort", choices=SORT_KEYS, default="started", help="metrics sort best first")
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="e.g. model=iv3_gru, status=finished, optim.lr=0.001 (repeatable)",
    )
    parser.add_argument("--last", type=int, metavar="N", help="only the N most recent runs")
    parser.add_argument("--csv", metavar="FILE", help="also write the rows to a CSV file")
    return parser


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or (Console() if sys.stdout.isatty() else Console(width=220))  # piped: don't squeeze
    root = Path(args.root)
    if not root.is_dir():
        console.print(
            f"[red]error:[/] {root} is not a folder; give the experiments folder, a sweep folder or a run folder"
        )
        return 1
    rows = select(collect(root), args.sort, args.filter, args.last)
    if not rows:
        console.print(f"no runs under {root}" + (" match the filters" if args.filter else ""))
    else:
        render(rows, console, f"{len(rows)} run(s) under {root}")
        if (root / "multirun.yaml").exists():
            render_groups(seed_groups(rows), console)
    if args.csv:
        write_csv(rows, Path(args.csv))
        console.print(f"wrote {args.csv}")
    return 0

"""``signlang split DATA_DIR LABELS.csv --out OUT [--val 0.15] [--test 0.15] [--group-by signer] [--link]
[--leave-out N [--leave-out-val M]]``: train/val/test in the seed layout, stratified by gloss, whole
groups per split, identical clips in one split (listed, with any that disagree on the gloss).
``--leave-out`` sets glosses aside as signs a model will not know; an identical clip on both sides of
that line is reported as leakage (exit status 1)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from signlang.data.split import split_dataset


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("data_dir", help="folder of .npz clips")
    parser.add_argument("labels", help="labels CSV file,gloss,cat,occluded (+ a group column)")
    parser.add_argument("--out", required=True, help="where to write the seed layout")
    parser.add_argument("--val", type=float, default=0.15)
    parser.add_argument("--test", type=float, default=0.15)
    parser.add_argument("--group-by", help="column whose values never span two splits (e.g. signer)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--link", action="store_true", help="hard-link (or symlink) the clips instead of copying them")
    parser.add_argument(
        "--leave-out", type=int, default=0, metavar="N", help="N glosses out of every split: keypoints_unknown_test/"
    )
    parser.add_argument(
        "--leave-out-val",
        type=int,
        default=0,
        metavar="M",
        help="M more, to choose thresholds on: keypoints_unknown_val/",
    )
    return parser


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    result = split_dataset(
        Path(args.data_dir),
        Path(args.labels),
        Path(args.out),
        args.val,
        args.test,
        args.group_by,
        args.seed,
        args.link,
        args.leave_out,
        args.leave_out_val,
    )
    table = Table(
        "split", "clips", "glosses", *(["groups"] if result["groups"] else []), title=f"signlang split -> {args.out}"
    )
    for s in result["counts"]:
        table.add_row(
            s,
            str(result["counts"][s]),
            str(result["glosses"][s]),
            *([str(result["groups"][s])] if result["groups"] else []),
        )
    console.print(table)
    for part, glosses in result["left_out"].items():
        console.print(f"{part}: glosses {', '.join(map(str, glosses))} (every clip of them)")
    for leak in result["leaks"]:
        console.print(
            "[red]leakage:[/] identical clips in different splits: " + ", ".join(f"{f} ({s})" for f, s in leak)
        )
    for dup in result["duplicates"]:
        console.print(
            "[yellow]duplicate:[/] identical clips, kept in one split: " + ", ".join(f"{f} ({s})" for f, s in dup)
        )
    for clash in result["conflicts"]:
        console.print(
            "[yellow]conflict:[/] identical clips labelled with different glosses: "
            + ", ".join(f"{f} (gloss {g})" for f, g in clash)
        )
    return 1 if result["leaks"] else 0

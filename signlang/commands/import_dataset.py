"""``signlang import wlasl|names ... --out DIR``: a public dataset in its own format, extracted into
the seed layout with its own splits, signers and class names.

    signlang import wlasl --split-file nslt_100.json --metadata WLASL_v0.3.json --videos videos/ --out wlasl100
    signlang import wlasl --split-file WLASL_v0.3.json --subset 100 --videos videos/ --out wlasl100
    signlang import names --videos lsa64/ --test-signers 009,010 --out lsa64   # 001_004_002.mp4: sign 1, signer 4

Each split gets ``keypoints_<split>/`` and ``<split>_labels.csv`` with a ``signer`` column
(``data.val_group_by=signer`` then keeps val's signers out of training); ``label_names.csv`` comes
from the dataset's class list. Videos the split file lists but that are not there (WLASL's dead
links) are counted and skipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from signlang.commands.extract import add_extraction_arguments, extraction_options
from signlang.extract.importers import from_names, wlasl, write_layout


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    w = formats.add_parser("wlasl", help="WLASL: nslt_<N>.json or WLASL_v0.3.json, and videos/<video_id>.mp4")
    w.add_argument("--split-file", required=True, help="nslt_100.json (or nslt_300/1000/2000) or WLASL_v0.3.json")
    w.add_argument("--videos", required=True, help="the folder of <video_id>.mp4")
    w.add_argument("--metadata", help="WLASL_v0.3.json beside an nslt file: class names and signer ids")
    w.add_argument("--class-list", help="wlasl_class_list.txt (id<TAB>name): class names")
    w.add_argument("--subset", type=int, help="with WLASL_v0.3.json: its first N glosses (WLASL100: 100)")
    n = formats.add_parser("names", help="videos named sign_signer_repetition.mp4 (LSA64 and the like)")
    n.add_argument("--videos", required=True, help="the folder of videos")
    n.add_argument("--pattern", default="{gloss}_{signer}_{repetition}", help="how a file name reads")
    n.add_argument("--class-list", help="class names: one per line in id order, or a CSV id,label")
    n.add_argument("--first-id", type=int, default=1, help="the number of the first gloss in file names (LSA64: 1)")
    n.add_argument("--val-signers", default="", help="comma-separated signers for val (default: none)")
    n.add_argument("--test-signers", default="", help="comma-separated signers for test (default: none)")
    n.add_argument("--language", default="", help="the category every gloss is in (e.g. LSA)")
    for sub in (w, n):
        sub.add_argument("--out", required=True, help="where the seed layout goes")
        add_extraction_arguments(sub)
    return parser


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    if args.format == "wlasl":
        dataset = wlasl(
            Path(args.split_file),
            Path(args.videos),
            Path(args.metadata) if args.metadata else None,
            Path(args.class_list) if args.class_list else None,
            args.subset,
        )
    else:
        dataset = from_names(
            Path(args.videos),
            args.pattern,
            Path(args.class_list) if args.class_list else None,
            args.first_id,
            tuple(s for s in args.val_signers.split(",") if s),
            tuple(s for s in args.test_signers.split(",") if s),
            args.language,
        )
    result = write_layout(dataset, Path(args.out), extraction_options(args), max(1, args.workers))
    table = Table("split", "clips", "signers", title=f"signlang import {args.format} -> {args.out}")
    for split, count in result["counts"].items():
        table.add_row(split, str(count), str(result["signers"][split] or "-"))
    console.print(table)
    console.print(
        f"{result['glosses']} glosses in {Path(args.out) / 'label_names.csv'}: train with "
        f"data.root={args.out} data.num_gloss={result['glosses']} data.num_cat=1"
    )
    if result["missing"]:
        console.print(
            f"[yellow]{len(result['missing'])} listed video(s) not in {args.videos}[/] (skipped): "
            + ", ".join(result["missing"][:10])
            + (" ..." if len(result["missing"]) > 10 else "")
        )
    for failure in result["failed"]:
        console.print(f"[red]skipped[/] {failure}")
    return 0 if result["counts"] else 1

"""``signlang predict RUN_DIR FILE.npz|VIDEO [...] [--top-k 5] [--json] [--checkpoint best|last]``:
the gloss and category of clips, or of videos (extracted as the run's training clips were;
``--save-npz DIR`` keeps what was extracted, ``--iv3-weights FILE`` for a features model)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from signlang.evaluation.predict import predict_files


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    results = predict_files(
        args.run_dir, args.files, args.top_k, args.checkpoint, args.device, args.iv3_weights, args.save_npz
    )
    failed = any("error" in r for r in results)
    if args.json:  # plain JSON on stdout, for other programs
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
        return 1 if failed else 0
    table = Table(
        "file",
        "gloss",
        "conf",
        f"top {args.top_k}",
        "category",
        "conf",
        title=f"predictions of {Path(args.run_dir).name}",
    )
    for r in results:
        if "error" in r:
            table.add_row(Path(r["file"]).name, f"[red]{r['error']}", "", "", "", "")
            continue
        best, cat = r["gloss"][0], r["category"][0]
        others = ", ".join(f"{g['label']} {g['confidence']:.2f}" for g in r["gloss"][1:])
        table.add_row(
            Path(r["file"]).name,
            best["label"],
            f"{best['confidence']:.3f}",
            others,
            cat["label"],
            f"{cat['confidence']:.3f}",
        )
    console.print(table)
    return 1 if failed else 0


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run_dir", help="a run folder")
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help=".npz clips, or videos (extracted as the run's training clips were)"
    )
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--save-npz", metavar="DIR", help="keep what was extracted from videos, as .npz clips in DIR")
    parser.add_argument(
        "--iv3-weights",
        metavar="FILE",
        help="InceptionV3 weights for videos given to a features model "
        "(default: those the run's clips were extracted with)",
    )
    return parser

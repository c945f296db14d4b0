"""``signlang predict RUN_DIR FILE.npz|VIDEO [...] [--top-k 5] [--json] [--checkpoint best|last]``:
the gloss and category of clips, or of videos (extracted as the run's training clips were;
``--save-npz DIR`` keeps what was extracted, ``--iv3-weights FILE`` for a features model).
A clip unlike every gloss of the run is answered ``unknown`` (its rejection threshold).

``--stream``: each file is a longer recording with several signs; every sign found in it is listed
with its start and end (``--csv FILE`` writes the timeline; ``--close-gap``, ``--min-sign``,
``--context`` in seconds tune the segmenter)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from signlang.core.errors import ConfigError
from signlang.data.segments import CLOSE_GAP_S, CONTEXT_S, MIN_SIGN_S
from signlang.evaluation.predict import predict_files
from signlang.evaluation.stream import predict_stream, write_timeline


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    if args.stream:
        return run_stream(args, console)
    if args.csv:
        raise ConfigError("--csv writes a stream's timeline; add --stream")
    results = predict_files(
        args.run_dir, args.files, args.top_k, args.checkpoint, args.device, args.iv3_weights, args.save_npz
    )
    failed = any("error" in r for r in results)
    if args.json:  # plain JSON on stdout, for other programs
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
        return 1 if failed else 0
    cats = any("category" in r for r in results)  # a dataset without categories: no such columns
    columns = ["file", "gloss", "conf", f"top {args.top_k}"] + (["category", "conf"] if cats else [])
    table = Table(*columns, title=f"predictions of {Path(args.run_dir).name}")
    for r in results:
        if "error" in r:
            table.add_row(Path(r["file"]).name, f"[red]{r['error']}", *[""] * (len(columns) - 2))
            continue
        best = r["gloss"][0]
        cells = [Path(r["file"]).name, shown_answer(r), f"{best['confidence']:.3f}", others(r)]
        if cats:
            cells += [r["category"][0]["label"], f"{r['category'][0]['confidence']:.3f}"]
        table.add_row(*cells)
    console.print(table)
    return 1 if failed else 0


def shown_answer(r: dict) -> str:
    return r["answer"] if r["known"] else f"[yellow]unknown[/] [dim](nearest {r['gloss'][0]['label']})[/]"


def others(r: dict) -> str:
    return ", ".join(f"{g['label']} {g['confidence']:.2f}" for g in r["gloss"][1:])


def run_stream(args: argparse.Namespace, console: Console) -> int:
    """Every sign of each file, as a timeline."""
    settings = segmenter_settings(args)
    results = [
        predict_stream(
            args.run_dir, f, args.top_k, args.checkpoint, args.device, args.iv3_weights, args.save_npz, **settings
        )
        for f in args.files
    ]
    if args.csv:
        if len(results) > 1:
            raise ConfigError("--csv takes one file's timeline; give one file, or use --json")
        write_timeline(results[0], Path(args.csv))
    if args.json:
        sys.stdout.write(json.dumps(results if len(results) > 1 else results[0], indent=2) + "\n")
        return 0
    for result in results:
        cats = any("category" in s for s in result["signs"])
        table = Table(
            *["start", "end", "sign", "conf", f"top {args.top_k}"] + (["category"] if cats else []),
            title=f"{Path(result['file']).name}: {len(result['signs'])} sign(s) in "
            f"{result['frames'] / result['fps']:.1f} s ({Path(args.run_dir).name})",
        )
        for sign in result["signs"]:
            cells = [f"{sign['start_s']:.2f}", f"{sign['end_s']:.2f}", shown_answer(sign)]
            cells += [f"{sign['gloss'][0]['confidence']:.3f}", others(sign)]
            table.add_row(*cells + ([sign["category"][0]["label"]] if cats else []))
        console.print(table)
        if args.csv:
            console.print(f"timeline: {args.csv}")
    return 0


def add_segmenter_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The segmenter's settings, in seconds (``signlang.data.segments``)."""
    seconds = (
        ("--close-gap", CLOSE_GAP_S, "hands down this long end a sign"),
        ("--min-sign", MIN_SIGN_S, "the shortest sign"),
        ("--context", CONTEXT_S, "rest either side given to the model"),
    )
    for flag, default, meaning in seconds:
        parser.add_argument(flag, type=float, default=default, metavar="S", help=f"{prefix}{meaning} (s)")


def segmenter_settings(args: argparse.Namespace) -> dict[str, float]:
    return {"close_gap_s": args.close_gap, "min_sign_s": args.min_sign, "context_s": args.context}


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run_dir", help="a run folder")
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help=".npz clips, or videos (extracted as the run's training clips were)"
    )
    parser.add_argument("--stream", action="store_true", help="each file holds several signs: list every one")
    parser.add_argument("--csv", metavar="FILE", help="--stream: write the timeline as CSV")
    add_segmenter_arguments(parser, "--stream: ")
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

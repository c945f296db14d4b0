"""``signlang validate DIR [--labels CSV] [--key X] [--require-x2048] [--num-gloss N] [--num-cat N]``:
check a folder of ``.npz`` clips and its labels CSV before training. Exit status: 0 when there are no
errors (warnings allowed), 1 otherwise."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from signlang.data.validate import Finding, Report, validate


def render(report: Report, console: Console, verbose: bool = False, limit: int = 200) -> None:
    """A summary table, every error per file, and warnings grouped by sort (per file with verbose)."""
    summary = Table(title=f"signlang validate {report.directory}", show_header=False)
    summary.add_row(".npz files", str(report.files))
    summary.add_row("frames", str(report.frames))
    if report.label_rows is not None:
        summary.add_row("label rows", str(report.label_rows))
    files_with_errors = len({f.file for f in report.errors})
    summary.add_row(
        "errors", f"[red]{len(report.errors)}[/] in {files_with_errors} file(s)" if report.errors else "[green]0"
    )
    summary.add_row("warnings", f"[yellow]{len(report.warnings)}" if report.warnings else "0")
    summary.add_row("result", "[green]clean" if report.clean else "[red]problems found")
    console.print(summary)
    listed = report.errors + (report.warnings if verbose else [])
    if listed:
        problems = Table("file", "", "problem", title="problems")
        for f in listed[:limit]:
            problems.add_row(f.file, "[red]error" if f.severity == "error" else "[yellow]warning", f.message)
        console.print(problems)
        if len(listed) > limit:
            console.print(f"... and {len(listed) - limit} more")
    if report.warnings and not verbose:
        groups: dict[str, list[Finding]] = {}
        for f in report.warnings:
            groups.setdefault(f.kind or f.message, []).append(f)
        table = Table("warning", "files", "example", title="warnings (--verbose lists every file)")
        for kind, items in groups.items():
            table.add_row(kind, str(len(items)), f"{items[0].file}: {items[0].message}")
        console.print(table)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("directory", help="folder of .npz clips")
    parser.add_argument("--labels", help="labels CSV (file,gloss,cat,occluded) to check against the folder")
    parser.add_argument("--key", default="X", help="array the model reads (default X: keypoints [T,156])")
    parser.add_argument("--require-x2048", action="store_true", help="every clip must also hold X2048 [T,2048]")
    parser.add_argument("--num-gloss", type=int, help="labels must be < this")
    parser.add_argument("--num-cat", type=int, help="categories must be < this")
    parser.add_argument("--verbose", action="store_true", help="list every warning per file")
    return parser


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    report = validate(args.directory, args.labels, args.key, args.require_x2048, args.num_gloss, args.num_cat)
    render(report, console or Console(), verbose=args.verbose)
    return 0 if report.clean else 1

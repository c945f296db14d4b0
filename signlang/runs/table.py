"""Reading run folders back: a row per run or sweep job, filters, sorting, and seed statistics.

``signlang runs``, the app's Runs page, ``resume-sweep`` and the summary after a sweep all read runs
through here. Jobs that differ only in ``trainer.seed`` or ``data.val_fold`` (repeats of one setting:
seeds, cross-validation folds) are grouped and reported as mean ± std. A
broken or half-written folder is listed with its problem; reading never fails.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from signlang.runs.record import METRICS_FILE, SUMMARY_FILE, is_run_folder

NOISE = ("paths.output_root", "hydra.", "callbacks.console.progress")  # overrides that say nothing about the model
METRICS = ("val_gloss", "val_cat", "test_gloss", "test_cat")
REPEATS = ("trainer.seed", "data.val_fold")  # overrides that repeat one setting rather than change it
SORT_KEYS = ("started", "folder", "status", "model", "data", "epochs", "wall", *METRICS)


@dataclass
class RunRow:
    folder: str
    status: str
    model: str = ""
    data: str = ""
    overrides: list[str] = field(default_factory=list)
    epochs: int | None = None
    max_epochs: int | None = None
    val_gloss: float | None = None
    val_cat: float | None = None
    test_gloss: float | None = None
    test_cat: float | None = None
    final_split: str | None = None
    val_seen: bool = False  # data.train_on_val: its val numbers are on clips it trained on, so not shown
    wall: float | None = None
    started: str = ""
    problem: str = ""
    choices: dict[str, Any] = field(default_factory=dict)


def find_runs(root: Path) -> list[Path]:
    """Run folders under ``root`` (or ``root`` itself), not descending into a run folder."""
    if is_run_folder(root):
        return [root]
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        current = Path(dirpath)
        empty = not dirnames and not filenames and current.name not in ("runs", "sweeps")
        if current != root and (is_run_folder(current) or empty):
            found.append(current)
            dirnames[:] = []
        else:
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_run(path: Path, root: Path) -> RunRow:
    """What a run folder says about itself; problems become a ``problem`` text, never an exception."""
    folder = str(path.relative_to(root)) if path != root else path.name
    summary_path = path / SUMMARY_FILE
    if not any(path.iterdir()):
        return RunRow(folder, "failed", problem="empty folder")
    if not summary_path.exists():
        has_metrics = (path / METRICS_FILE).exists()
        return RunRow(
            folder,
            "failed",
            problem="no summary.json"
            + (" (metrics.csv present)" if has_metrics else ": the run stopped before it started"),
        )
    try:
        summary = json.loads(summary_path.read_text())
        if not isinstance(summary, dict):
            raise ValueError("not an object")
    except (OSError, ValueError) as e:
        return RunRow(folder, "failed", problem=f"summary.json unreadable ({e})")
    choices = summary.get("choices") or {}
    best = summary.get("best") or {}
    final = summary.get("final") or {}
    row = RunRow(
        folder=folder,
        status=str(summary.get("status", "unknown")),
        model=str(choices.get("model", "")),
        data=str(choices.get("data", "")),
        overrides=[o for o in summary.get("overrides", []) if not o.startswith(NOISE)],
        epochs=summary.get("epochs_completed"),
        max_epochs=summary.get("max_epochs"),
        val_gloss=None if summary.get("val_seen") else best.get("val_gloss_acc"),
        val_cat=None if summary.get("val_seen") else best.get("val_cat_acc"),
        final_split=final.get("split"),
        val_seen=bool(summary.get("val_seen")),
        wall=summary.get("wall_time_s"),
        started=str(summary.get("started_at", "")),
        problem=str(summary.get("error") or ""),
        choices=dict(choices),
    )
    if final.get("split") == "test":
        row.test_gloss, row.test_cat = final.get("gloss_acc"), final.get("cat_acc")
    if row.status == "running" and summary.get("host") == socket.gethostname() and isinstance(summary.get("pid"), int):
        if not _alive(summary["pid"]):
            row.status, row.problem = (
                "interrupted",
                f"process {summary['pid']} is gone (killed?); resume with trainer.resume",
            )
    return row


def collect(root: Path) -> list[RunRow]:
    return [read_run(p, root) for p in find_runs(root)]


def differing(rows: list[RunRow]) -> list[list[str]]:
    """Per row, the overrides not shared by every listed run (all of them when only one run is listed)."""
    if len(rows) < 2:
        return [r.overrides for r in rows]
    common = set.intersection(*(set(r.overrides) for r in rows))
    return [[o for o in r.overrides if o not in common] for r in rows]


def matches(row: RunRow, condition: str) -> bool:
    key, _, value = condition.partition("=")
    if key in ("status", "folder"):
        return getattr(row, key) == value
    if key in row.choices:  # a config group, as Hydra recorded the run's choices
        return str(row.choices[key]) == value
    return f"{key}={value}" in row.overrides


def select(
    rows: list[RunRow], sort: str = "started", filters: list[str] | None = None, last: int | None = None
) -> list[RunRow]:
    rows = [r for r in rows if all(matches(r, f) for f in filters or [])]
    rows.sort(key=lambda r: (r.started, r.folder))
    if last:
        rows = rows[-last:]
    if sort in METRICS or sort in ("wall", "epochs"):
        rows.sort(key=lambda r: (getattr(r, sort) is None, -(getattr(r, sort) or 0)))
    elif sort != "started":
        rows.sort(key=lambda r: str(getattr(r, sort)))
    return rows


def seed_groups(rows: list[RunRow]) -> list[dict[str, Any]]:
    """Jobs grouped by their overrides without the ``REPEATS`` (seed, val fold), with mean and std of
    each metric: over folds, the val mean is the cross-validated score."""
    groups: dict[tuple[str, ...], list[RunRow]] = {}
    for r, overrides in zip(rows, differing(rows)):  # overrides all jobs share say nothing about a group
        key = tuple(sorted(o for o in overrides if o.partition("=")[0] not in REPEATS))
        groups.setdefault(key, []).append(r)
    out = []
    for key, members in groups.items():
        done = [m for m in members if m.status == "finished"]
        stats = {}
        for metric in METRICS:
            values = [getattr(m, metric) for m in done if getattr(m, metric) is not None]
            stats[metric] = (
                (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0, len(values))
                if values
                else None
            )
        out.append({"overrides": list(key), "jobs": len(members), "finished": len(done), **stats})
    return out


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def render(rows: list[RunRow], console: Console, title: str) -> None:
    table = Table(title=title)
    table.add_column("folder", no_wrap=True)
    for column in ("status", "model", "data"):
        table.add_column(column, no_wrap=True)
    table.add_column("overrides", max_width=48)
    for column in ("epochs", "val gloss", "val cat", "test gloss", "test cat", "wall"):
        table.add_column(column, justify="right", no_wrap=True)
    show_problems = any(r.problem for r in rows)
    if show_problems:
        table.add_column("problem", style="red", no_wrap=True, max_width=60, overflow="ellipsis")
    colors = {"finished": "green", "running": "cyan", "failed": "red", "interrupted": "yellow"}
    for r, overrides in zip(rows, differing(rows)):
        epochs = "" if r.epochs is None else f"{r.epochs}/{r.max_epochs}" if r.max_epochs else str(r.epochs)
        wall = "" if r.wall is None else f"{r.wall / 60:.1f} min" if r.wall >= 60 else f"{r.wall:.0f} s"
        cells = [
            r.folder,
            f"[{colors.get(r.status, 'white')}]{r.status}",
            r.model,
            r.data,
            " ".join(overrides),
            epochs,
            "seen" if r.val_seen else _pct(r.val_gloss),
            "seen" if r.val_seen else _pct(r.val_cat),
            _pct(r.test_gloss),
            _pct(r.test_cat),
            wall,
        ]
        table.add_row(*cells, *([r.problem] if show_problems else []))
    console.print(table)


def render_groups(groups: list[dict[str, Any]], console: Console) -> None:
    """The seed statistics; nothing when no group has more than one job (no seeds were swept)."""
    if all(g["jobs"] < 2 for g in groups):
        return
    table = Table(title=f"grouped by overrides, ignoring {' and '.join(REPEATS)} (mean ± std over finished jobs)")
    for column in ("overrides", "jobs", "val gloss", "val cat", "test gloss", "test cat"):
        table.add_column(column)
    for g in groups:
        cells = ["{:.3f} ± {:.3f} (n={})".format(*g[m]) if g[m] else "—" for m in METRICS]
        table.add_row(" ".join(g["overrides"]) or "(none)", f"{g['finished']}/{g['jobs']}", *cells)
    console.print(table)


def write_csv(rows: list[RunRow], path: Path) -> None:
    fields = [f for f in asdict(rows[0]) if f != "choices"] if rows else ["folder"]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({**asdict(r), "overrides": " ".join(r.overrides)})


def render_sweep(sweep: Path, console: Console) -> list[RunRow]:
    """The table of a sweep's jobs and their mean ± std over seeds (after ``-m`` and ``resume-sweep``)."""
    rows = collect(sweep) if sweep.is_dir() else []
    if rows:
        render(rows, console, f"sweep {sweep}: {len(rows)} job(s)")
        render_groups(seed_groups(rows), console)
    return rows

"""``signlang resume-sweep SWEEP_DIR [--dry-run]``: re-launch only the jobs of a sweep that did not finish.

The job list is rebuilt as Hydra's basic sweeper built it (``signlang.runs.sweep``), so job ``i``
keeps its folder ``SWEEP_DIR/i``. A job
with a last checkpoint continues from it (``trainer.resume``); a job that never got that far
starts again in its folder (its earlier ``summary.json`` is kept as ``summary.attempt<n>.json``);
a job that never started is launched. Finished jobs are left alone.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from signlang.core.paths import REPO_ROOT
from signlang.runs.record import CHECKPOINT_DIR, HYDRA_DIR, SUMMARY_FILE
from signlang.runs.sweep import sweep_jobs
from signlang.runs.table import read_run, render_sweep

log = logging.getLogger(__name__)


def resume_command(job_dir: Path, overrides: list[str]) -> list[str]:
    """How to re-launch one job: continue from its last checkpoint, or run it again in its folder."""
    run = [sys.executable, str(REPO_ROOT / "run.py")]
    if any((job_dir / CHECKPOINT_DIR).glob("*_last.pt")):
        return [*run, f"trainer.resume={job_dir}"]
    return [*run, *overrides, f"hydra.run.dir={job_dir}"]


def archive_attempt(job_dir: Path) -> None:
    """Keep the record of a failed attempt that is about to be run again in its folder: its
    ``summary.json`` and Hydra's ``.hydra/`` become ``summary.attempt<n>.json`` and ``.hydra.attempt<n>``."""
    n = 1
    while (job_dir / f"summary.attempt{n}.json").exists() or (job_dir / f"{HYDRA_DIR}.attempt{n}").exists():
        n += 1
    for name, archived in ((SUMMARY_FILE, f"summary.attempt{n}.json"), (HYDRA_DIR, f"{HYDRA_DIR}.attempt{n}")):
        if (job_dir / name).exists():
            (job_dir / name).rename(job_dir / archived)


def resume_sweep(sweep_dir: Path, dry_run: bool = False, console: Console | None = None) -> int:
    console = console or Console()
    sweep_dir = Path(sweep_dir)
    jobs, launch_dir = sweep_jobs(sweep_dir)
    todo = []
    for number, overrides in enumerate(jobs):
        job_dir = (sweep_dir / str(number)).resolve()
        status = read_run(job_dir, sweep_dir).status if job_dir.is_dir() else None
        if status in ("finished", "running"):  # done, or still being trained by a live process
            continue
        todo.append((number, job_dir, overrides))
    if not todo:
        console.print(f"all {len(jobs)} job(s) of {sweep_dir} finished; nothing to do")
        return 0
    failures = 0
    for number, job_dir, overrides in todo:
        command = resume_command(job_dir, overrides)
        console.print(f"job {number}: {' '.join(command[2:])}")
        if dry_run:
            continue
        if not command[2].startswith("trainer.resume="):
            archive_attempt(job_dir)
        failures += subprocess.run(command, cwd=launch_dir).returncode != 0
    if not dry_run:
        render_sweep(sweep_dir, console)
    return 1 if failures else 0


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("sweep_dir", help="a sweep folder (experiments/sweeps/<sweep>)")
    parser.add_argument("--dry-run", action="store_true", help="only list what would be launched")
    return parser


def run(args: argparse.Namespace) -> int:
    return resume_sweep(Path(args.sweep_dir), args.dry_run)

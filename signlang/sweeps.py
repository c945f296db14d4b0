"""``signlang resume-sweep SWEEP_DIR``: re-launch only the jobs of a sweep that did not finish.

The job list is rebuilt exactly as Hydra's basic sweeper built it (its ``multirun.yaml`` holds the
sweep's overrides and sweeper parameters), so job ``i`` keeps its folder ``SWEEP_DIR/i``. A job
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

from omegaconf import OmegaConf
from rich.console import Console

from signlang.config import REPO_ROOT
from signlang.errors import ConfigError, DataError
from signlang.runs import read_run, render_sweep
from signlang.training.run_folder import CHECKPOINT_DIR, SUMMARY_FILE

log = logging.getLogger(__name__)


def sweep_jobs(sweep_dir: Path) -> tuple[list[list[str]], Path]:
    """Every job's overrides, in job-number order, and the folder the sweep was launched from."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    config_file = Path(sweep_dir) / "multirun.yaml"
    if not config_file.is_file():
        raise DataError(f"{sweep_dir} has no multirun.yaml; give the folder of a sweep (experiments/sweeps/<sweep>)")
    cfg = OmegaConf.load(config_file)
    sweeper = str(cfg.hydra.sweeper.get("_target_", ""))
    if not sweeper.endswith("BasicSweeper"):
        raise ConfigError(
            f"{sweep_dir} was made by {sweeper.rsplit('.', 1)[-1]}, whose jobs depend on its own search state; "
            "run the same command again (with hydra.sweeper.storage set, Optuna continues the study)"
        )
    params = [f"{k}={v}" for k, v in (cfg.hydra.sweeper.get("params") or {}).items()]
    overrides = OverridesParser.create().parse_overrides(params + list(cfg.hydra.overrides.task))
    return [list(job) for job in BasicSweeper.split_arguments(overrides, None)[0]], Path(cfg.hydra.runtime.cwd)


def resume_command(job_dir: Path, overrides: list[str]) -> list[str]:
    """How to re-launch one job: continue from its last checkpoint, or run it again in its folder."""
    run = [sys.executable, str(REPO_ROOT / "run.py")]
    if any((job_dir / CHECKPOINT_DIR).glob("*_last.pt")):
        return [*run, f"trainer.resume={job_dir}"]
    return [*run, *overrides, f"hydra.run.dir={job_dir}"]


def archive_attempt(job_dir: Path) -> None:
    """Keep the summary of a failed attempt that is about to be run again."""
    summary = job_dir / SUMMARY_FILE
    if summary.exists():
        n = 1
        while (job_dir / f"summary.attempt{n}.json").exists():
            n += 1
        summary.rename(job_dir / f"summary.attempt{n}.json")


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


def run_resume_sweep(args: argparse.Namespace) -> int:
    return resume_sweep(Path(args.sweep_dir), args.dry_run)

"""Hydra callbacks registered in ``conf/config.yaml``: checks that must run before Hydra writes anything."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from rich.console import Console

from signlang.runs.record import is_run_folder
from signlang.runs.table import render_sweep
from signlang.training.distributed import rank_from_env


class RunFolderError(SystemExit):
    """Exit with one line on stderr and status 1 (Hydra turns other callback errors into warnings)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


def _writable(folder: Path) -> None:
    """Create ``folder`` now so an unwritable output root fails with one clear line."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunFolderError(
            f"cannot create {folder} ({e.strerror}); set paths.output_root to a writable folder"
        ) from None


class ProtectRunFolders(Callback):
    """Refuse an output folder that already holds a run, or cannot be written.

    Hydra writes ``.hydra/`` into the output folder before the task runs, so this has to happen
    here, before anything is written: nothing a run wrote is ever overwritten. (A resumed run
    writes into its own folder on purpose; ``signlang.training.resume.launch_args`` checked it.)
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if rank_from_env() > 0 or config.trainer.get("resume"):  # rank 0 owns the folder; a resume continues it
            return
        folder = Path(str(config.hydra.run.dir))
        if is_run_folder(folder):
            raise RunFolderError(
                f"{folder} already holds a run; nothing a run wrote is overwritten. "
                "Leave hydra.run.dir at its default, point it at a new folder, or continue it with trainer.resume"
            )
        _writable(folder)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(str(config.hydra.sweep.dir))
        taken = [p for p in sweep.glob("*") if p.is_dir() and is_run_folder(p)] if sweep.is_dir() else []
        if taken:
            raise RunFolderError(
                f"{sweep} already holds sweep jobs ({taken[0].name}, ...); nothing a run wrote is overwritten. "
                "Leave hydra.sweep.dir at its default or point it at a new folder"
            )
        _writable(sweep)


class SweepSummary(Callback):
    """After a sweep: the ``signlang runs`` table of its jobs (with mean ± std over seeds), and a
    non-zero exit status when any job failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(str(config.hydra.sweep.dir))
        console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=220)
        rows = render_sweep(sweep, console)
        failed = [r.folder for r in rows if r.status != "finished"]
        if failed:
            raise RunFolderError(
                f"{len(failed)} of {len(rows)} job(s) did not finish ({', '.join(failed)}); "
                f"see their run.log, fix, then: signlang resume-sweep {sweep}"
            )

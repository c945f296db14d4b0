"""Hydra callbacks registered in ``conf/config.yaml``: checks that must run before Hydra writes anything."""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from rich.console import Console

from signlang.runs.lock import RunInUse, RunLock
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
    """Refuse an output folder that already holds a run, that another process is writing, or that
    cannot be written; then hold the folder's lock while the run trains.

    Hydra writes ``.hydra/`` into the output folder before the task runs, so this has to happen
    here, before anything is written: nothing a run wrote is ever overwritten, and a run folder has
    one writer at a time (``signlang.runs.lock``). A resumed run writes into its own folder on
    purpose (``signlang.training.resume.launch_args`` checked it), once nobody else does. Sweep
    jobs take their folder's lock as each starts.
    """

    def __init__(self) -> None:
        self.lock: RunLock | None = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if rank_from_env() > 0:  # rank 0 owns the folder
            return
        folder = Path(str(config.hydra.run.dir))
        if not config.trainer.get("resume") and is_run_folder(folder):
            raise RunFolderError(
                f"{folder} already holds a run; nothing a run wrote is overwritten. "
                "Leave hydra.run.dir at its default, point it at a new folder, or continue it with trainer.resume"
            )
        _writable(folder)
        self._take(folder)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if rank_from_env() == 0 and self.lock is None:  # a sweep job (a single run took its lock above)
            self._take(Path(str(config.hydra.runtime.output_dir)))

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if self.lock is not None and self.lock.folder == Path(str(config.hydra.runtime.output_dir)):
            self.lock.release()
            self.lock = None

    def _take(self, folder: Path) -> None:
        try:
            self.lock = RunLock(folder).acquire()
        except RunInUse as e:
            raise RunFolderError(str(e)) from None
        except OSError as e:
            fix = "free space there" if e.errno in (errno.ENOSPC, errno.EDQUOT) else "make it writable"
            raise RunFolderError(
                f"cannot write to {folder} ({e.strerror}); {fix}, or set paths.output_root elsewhere"
            ) from None

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

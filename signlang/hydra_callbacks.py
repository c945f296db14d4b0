"""Hydra callbacks registered in ``conf/config.yaml``: checks that must run before Hydra writes anything."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from signlang.training.distributed import rank_from_env
from signlang.training.resume import resume_run_dir
from signlang.training.run_folder import CHECKPOINT_DIR, METRICS_FILE


class RunFolderError(SystemExit):
    """Exit with one line on stderr and status 1 (Hydra turns other callback errors into warnings)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


def _holds_run(folder: Path) -> bool:
    return (folder / METRICS_FILE).exists() or (folder / CHECKPOINT_DIR).exists()


def _writable(folder: Path) -> None:
    """Create ``folder`` now so an unwritable output root fails with one clear line."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunFolderError(f"cannot create {folder} ({e.strerror}); set paths.output_root to a writable folder") from None


class ProtectRunFolders(Callback):
    """Refuse an output folder that already holds a run (unless resuming it) or cannot be written.

    Hydra writes ``.hydra/`` into the output folder before the task runs, so these checks have to
    happen here, before anything is written: nothing a run wrote is ever overwritten.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if rank_from_env() > 0:  # torchrun: rank 0 checks and owns the run folder
            return
        resume = config.trainer.get("resume")
        folder = Path(str(config.hydra.run.dir))
        if resume:
            target = resume_run_dir(resume)
            if not Path(str(resume)).exists() or not _holds_run(target):
                raise RunFolderError(f"trainer.resume={resume}: no run folder or checkpoint there; give a run folder or its checkpoints/<Model>_last.pt")
            return
        if _holds_run(folder):
            raise RunFolderError(
                f"{folder} already holds a run; nothing a run wrote is overwritten. "
                "Leave hydra.run.dir at its default, point it at a new folder, or continue it with trainer.resume"
            )
        _writable(folder)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.trainer.get("resume"):
            raise RunFolderError("trainer.resume continues one run; it cannot be swept. Resume each run on its own")
        sweep = Path(str(config.hydra.sweep.dir))
        taken = [p for p in sweep.glob("*") if p.is_dir() and _holds_run(p)] if sweep.is_dir() else []
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
        from rich.console import Console

        from signlang.runs import render_sweep

        sweep = Path(str(config.hydra.sweep.dir))
        console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=220)
        rows = render_sweep(sweep, console)
        failed = [r.folder for r in rows if r.status != "finished"]
        if failed:
            raise RunFolderError(f"{len(failed)} of {len(rows)} job(s) did not finish ({', '.join(failed)}); "
                                 f"see their run.log, fix, then: signlang resume-sweep {sweep}")  # fmt: skip

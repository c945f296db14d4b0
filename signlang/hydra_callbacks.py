"""Hydra callbacks registered in ``conf/config.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from signlang.training.run_folder import CHECKPOINT_DIR, METRICS_FILE


class RunFolderTaken(SystemExit):
    """Exit with one line on stderr and status 1 (Hydra turns other callback errors into warnings)."""


def _holds_run(folder: Path) -> bool:
    return (folder / METRICS_FILE).exists() or (folder / CHECKPOINT_DIR).exists()


class ProtectRunFolders(Callback):
    """Refuse to start when the output folder already holds a run.

    Hydra writes ``.hydra/`` into the output folder before the task runs, so the check has to
    happen here, before anything is written: nothing a run wrote is ever overwritten.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.run.dir))
        if _holds_run(folder):
            raise RunFolderTaken(
                f"error: {folder} already holds a run; nothing a run wrote is overwritten. "
                "Leave hydra.run.dir at its default or point it at a new folder"
            )

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(str(config.hydra.sweep.dir))
        taken = [p for p in sweep.glob("*") if p.is_dir() and _holds_run(p)] if sweep.is_dir() else []
        if taken:
            raise RunFolderTaken(
                f"error: {sweep} already holds sweep jobs ({taken[0].name}, ...); nothing a run wrote is overwritten. "
                "Leave hydra.sweep.dir at its default or point it at a new folder"
            )

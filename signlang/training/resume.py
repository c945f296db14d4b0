"""``trainer.resume``: continue a run in its own folder, with its own config.

The resumed run's config is the one saved in the run's ``.hydra/config.yaml`` with this
command's ``key=value`` overrides applied on top (``trainer.max_epochs=50`` is the usual one), so
``python run.py trainer.resume=RUN trainer.max_epochs=50`` needs none of the original overrides.
"""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from signlang.errors import ConfigError
from signlang.training.distributed import joins_rank0, side_dir

GROUPS = ("model", "data", "optim", "scheduler", "trainer", "experiment")


def resume_run_dir(resume: str | None) -> Path | None:
    """The run folder ``trainer.resume`` names: the folder itself, or the run a checkpoint file sits in."""
    if not resume:
        return None
    path = Path(str(resume))
    if path.is_file() and path.parent.name == "checkpoints":
        return path.parent.parent
    return path


def run_dir_resolver(resume: str | None, default: str) -> str:
    """``hydra.run.dir``: the resumed run's folder when resuming, else a fresh folder. Under
    ``torchrun`` only rank 0 makes a run folder; the other ranks join it once the process group is
    up (run.py), and Hydra's own files for them go to a temp folder."""
    if joins_rank0():
        return side_dir()
    folder = resume_run_dir(resume)
    return str(folder) if folder is not None else default


def hydra_subdir_resolver(resume: str | None) -> str | None:
    """``hydra.output_subdir``: a resumed session saves its Hydra files beside, not over, the
    original ones; ranks other than 0 save none."""
    if joins_rank0():
        return None
    return f".hydra/resumed_{time.strftime('%Y-%m-%d_%H-%M-%S')}" if resume else ".hydra"


def restore_config(cfg: DictConfig, run_dir: Path, overrides: list[str]) -> DictConfig:
    """The run's saved config with ``overrides`` (this command's) applied; group changes are refused."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    saved = run_dir / ".hydra" / "config.yaml"
    if not saved.is_file():
        raise ConfigError(f"{run_dir} has no .hydra/config.yaml, so it is not a run folder signlang can resume")
    restored = OmegaConf.load(saved)
    choices_file = run_dir / ".hydra" / "hydra.yaml"
    choices = OmegaConf.load(choices_file).hydra.runtime.choices if choices_file.is_file() else {}
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        if key.startswith("hydra") or key == "trainer.resume":
            continue
        if key in GROUPS:
            if str(override.value()) != str(choices.get(key)):
                raise ConfigError(
                    f"cannot switch {key}={override.value()} when resuming a run trained with {key}={choices.get(key)}; "
                    "start a new run instead"
                )
            continue
        if override.is_delete():
            raise ConfigError(f"cannot delete {key} when resuming")
        with open_dict(restored):
            OmegaConf.update(restored, key, override.value(), merge=False)
    with open_dict(restored):
        restored.trainer.resume = cfg.trainer.resume
    return restored

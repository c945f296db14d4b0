"""``trainer.resume``: continue a run in its own folder, with the config it trained with.

    python run.py trainer.resume=experiments/runs/<run> trainer.max_epochs=50

Everything resuming involves, in the order it happens:

1. :func:`launch_args` (``run.py``, before Hydra composes anything): the command line becomes the
   run's own config-group choices, then this command's overrides, then the run's folder as Hydra's
   output folder, with this session's Hydra files in ``.hydra/resumed_<time>/``. A missing run, a
   sweep, or a switched config group is refused here, before anything is written. (The same
   function sends the Hydra files of ``torchrun`` ranks other than 0 away from the run folder.)
2. :func:`restore_config` (``run.py``): the config the run trained with (its ``.hydra/config.yaml``)
   with this command's ``key=value`` overrides on top. It replaces the composed config, and is what
   ``.hydra/resumed_<time>/config.yaml`` records.
3. :func:`resume_checkpoint` and :func:`check_can_continue` (called by the trainer): the run's
   ``_last.pt``, checked against the model and the run's ``metrics.csv``, and a refusal to
   "continue" a run that already trained its full length. Only then is the resumed session
   recorded in the run folder (``RunFolder.start_resumed_session``), so a refused resume changes
   nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from signlang.config import CONF_DIR
from signlang.errors import ConfigError
from signlang.files import atomic_write
from signlang.training.checkpoint import load_checkpoint
from signlang.training.distributed import joins_rank0, side_dir
from signlang.training.run_folder import CHECKPOINT_DIR, CONFIG_FILE, HYDRA_DIR, METRICS_FILE

RESUME_KEY = "trainer.resume"


def resume_run_dir(resume: str) -> Path:
    """The run folder ``trainer.resume`` names: the folder itself, or the run a checkpoint file sits in."""
    path = Path(str(resume))
    if path.is_file() and path.parent.name == CHECKPOINT_DIR:
        return path.parent.parent
    return path


def holds_run(folder: Path) -> bool:
    return (folder / METRICS_FILE).exists() or (folder / CHECKPOINT_DIR).exists()


def _overrides(overrides: list[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(overrides)


def _split(args: list[str]) -> tuple[list[str], list[str]]:
    """The command line as Hydra reads it: its flags (``--cfg job``, ``-m``, ...) and the overrides."""
    from hydra._internal.utils import get_args_parser

    overrides = list(get_args_parser().parse_known_args(args)[0].overrides)
    flags = list(args)
    for override in overrides:
        flags.remove(override)
    return flags, overrides


def _group(override) -> str:
    """The name Hydra records a group choice under (``recipe@trainer`` for a group placed in a package)."""
    return override.key_or_group + (f"@{override.package}" if override.package else "")


def saved_choices(run_dir: Path) -> dict[str, str | None]:
    """The config-group choices the run was composed with, as Hydra recorded them (``.hydra/hydra.yaml``)."""
    hydra_file = run_dir / HYDRA_DIR / "hydra.yaml"
    if not hydra_file.is_file():
        return {}
    choices = OmegaConf.to_container(OmegaConf.load(hydra_file).hydra.runtime.choices)
    return {group: choice for group, choice in choices.items() if not group.startswith("hydra/")}


def launch_args(args: list[str]) -> list[str]:
    """The command line Hydra composes (see the module docstring); raises ConfigError for a resume
    that cannot work."""
    extra = [f"hydra.run.dir={side_dir()}", "hydra.output_subdir=null"] if joins_rank0() else []
    flags, overrides = _split(args)
    resume = next((o.value() for o in _overrides(overrides) if o.key_or_group == RESUME_KEY and o.value()), None)
    if resume is None:
        return args + extra
    if any(a in ("-m", "--multirun") for a in flags):
        raise ConfigError("trainer.resume continues one run; it cannot be swept. Resume each run on its own")
    run_dir = resume_run_dir(str(resume))
    if not (Path(str(resume)).exists() and holds_run(run_dir)):
        raise ConfigError(
            f"trainer.resume={resume}: no run folder or checkpoint there; give a run folder or its checkpoints/<Model>_last.pt"
        )
    choices = saved_choices(run_dir)
    groups = set(choices) | {
        p.name for p in CONF_DIR.iterdir() if p.is_dir()
    }  # a list of options is not a recorded choice
    switched = {_group(o): o.value() for o in _overrides(overrides) if _group(o) in groups}
    for group, value in switched.items():
        if str(value) != str(choices.get(group)):
            raise ConfigError(
                f"cannot switch {group}={value} when resuming a run trained with {group}={choices.get(group, 'its own choice')}; "
                "start a new run instead"
            )
    own = [f"{group}={choice}" for group, choice in choices.items() if group not in switched and choice is not None]
    if joins_rank0():
        return flags + own + overrides + extra
    session = f"{HYDRA_DIR}/resumed_{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    return flags + own + overrides + [f"hydra.run.dir={run_dir}", f"hydra.output_subdir={session}"]


def restore_config(cfg: DictConfig, run_dir: Path) -> DictConfig:
    """The run's saved config with this command's ``key=value`` overrides applied; written over the
    composed config in this session's Hydra folder, so the record says what this session ran with."""
    from hydra.core.hydra_config import HydraConfig

    saved = run_dir / HYDRA_DIR / CONFIG_FILE
    if not saved.is_file():
        raise ConfigError(f"{run_dir} has no {HYDRA_DIR}/{CONFIG_FILE}, so it is not a run folder signlang can resume")
    restored = OmegaConf.load(saved)
    hydra = HydraConfig.get()
    groups = set(hydra.runtime.choices)
    for override in _overrides(list(hydra.overrides.task)):
        key = override.key_or_group
        if _group(override) in groups or key.startswith("hydra") or key == RESUME_KEY:
            continue  # groups are the run's own (launch_args refused any switch)
        if override.is_delete():
            raise ConfigError(f"cannot delete {key} when resuming")
        with open_dict(restored):
            OmegaConf.update(restored, key, override.value(), merge=False)
    with open_dict(restored):
        restored.trainer.resume = cfg.trainer.resume
    if hydra.output_subdir is not None:
        text = OmegaConf.to_yaml(restored).encode()
        atomic_write(Path(hydra.runtime.output_dir) / str(hydra.output_subdir) / CONFIG_FILE, lambda f: f.write(text))
    return restored


def resume_checkpoint(run, model_name: str, resume: str, device) -> dict[str, Any]:
    """The checkpoint named by ``trainer.resume`` (a run folder means its ``_last.pt``), checked."""
    target = Path(str(resume))
    path = run.checkpoint_path(model_name, "last") if target.is_dir() else target
    if not path.is_file():
        found = sorted(p.name for p in (run.path / CHECKPOINT_DIR).glob("*_last.pt"))
        raise ConfigError(
            f"trainer.resume={resume}: no {path.name} to resume from"
            + (f" (this run folder holds {', '.join(found)}: a checkpoint from a different model)" if found else "")
        )
    state = load_checkpoint(path, map_location=device)
    if state.get("model_name") != model_name or "loop" not in state:
        raise ConfigError(
            f"{path} holds a {state.get('model_name', 'non-resumable')} checkpoint, not {model_name}; resume the run it came from"
        )
    done = run.recorded_epochs()
    if done and state["epoch"] < max(done):
        raise ConfigError(
            f"{path} is from epoch {state['epoch']}, but {run.metrics_path} already records epoch {max(done)}; "
            "resume from the run folder (its _last.pt) so no epoch is recorded twice"
        )
    return state


def check_can_continue(run, steps: int, epochs: int, total_steps: int) -> None:
    """A finished run is only resumed to train longer."""
    if steps >= total_steps and run.previous_status == "finished":
        raise ConfigError(
            f"the run already trained {steps} steps ({epochs} epochs), its full length; "
            "raise trainer.max_epochs (or trainer.max_steps / trainer.min_steps) to continue it"
        )

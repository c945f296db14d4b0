"""``trainer.resume``: continue a run in its own folder, with the config it trained with.

    python run.py trainer.resume=experiments/runs/<run> trainer.max_epochs=50

Everything resuming involves is in this module, in the order it happens:

1. :func:`launch_args` (``run.py``, before Hydra composes anything): the run's own config-group
   choices and its folder (as Hydra's output folder, with this session's Hydra files in
   ``.hydra/resumed_<time>/``) join the command line. A missing run, a sweep, or a switched config
   group is refused here, before anything is written. (The same function sends the Hydra files of
   ``torchrun`` ranks other than 0 away from the run folder.)
2. :func:`restore_config` (``run.py``): the config the run trained with (its ``.hydra/config.yaml``)
   with this command's ``key=value`` overrides on top. It replaces the composed config, and is what
   ``.hydra/resumed_<time>/config.yaml`` records.
3. :func:`load` and :func:`load_weights` (``Trainer.prepare``): the run's ``_last.pt``, checked
   against the model and the run's ``metrics.csv``; the weights training continues from.
4. :func:`restore` (``Trainer.prepare``): optimizer, schedule, loss scaler, averaged weights,
   callbacks, counters and every RNG stream as the checkpoint left them, and a refusal to
   "continue" a run that already trained its full length. Only then is the resumed session
   recorded in the run folder, so a refused resume changes nothing.

Only Hydra's public API is used: its override parser (``hydra.core``) and ``HydraConfig``.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn

from signlang.core.errors import ConfigError
from signlang.core.files import atomic_write
from signlang.core.paths import CONF_DIR
from signlang.runs.checkpoints import load_checkpoint
from signlang.runs.folder import RunFolder
from signlang.runs.record import CHECKPOINT_DIR, CONFIG_FILE, ENV_FILE, HYDRA_DIR, is_run_folder
from signlang.training.distributed import joins_rank0, side_dir
from signlang.training.rng import set_rng_state

if TYPE_CHECKING:
    from signlang.training.fit import Fit

log = logging.getLogger(__name__)

RESUME_KEY = "trainer.resume"
MULTIRUN_FLAGS = ("-m", "--multirun")


def resume_run_dir(resume: str) -> Path:
    """The run folder ``trainer.resume`` names: the folder itself, or the run a checkpoint file sits in."""
    path = Path(str(resume))
    if path.is_file() and path.parent.name == CHECKPOINT_DIR:
        return path.parent.parent
    return path


def _parse(item: str):
    """``item`` of the command line as a Hydra override, or None for a flag or a flag's value."""
    if item.startswith("-"):
        return None
    try:
        return OverridesParser.create().parse_override(item)
    except HydraException:
        return None


def _group(override) -> str:
    """The name Hydra records a group choice under (``model``; ``hydra/launcher``)."""
    return override.key_or_group + (f"@{override.package}" if override.package else "")


def saved_choices(run_dir: Path) -> dict[str, Any]:
    """The config-group choices the run was composed with, as Hydra recorded them (``.hydra/hydra.yaml``)."""
    hydra_file = run_dir / HYDRA_DIR / "hydra.yaml"
    if not hydra_file.is_file():
        return {}
    choices = OmegaConf.to_container(OmegaConf.load(hydra_file).hydra.runtime.choices)
    return {group: choice for group, choice in choices.items() if not group.startswith("hydra/")}


def _insert(args: list[str], extra: list[str]) -> list[str]:
    """``extra`` overrides added to the command line beside its own overrides (Hydra takes overrides
    as one run of words: placed after a trailing flag they would be refused)."""
    first = next((i for i, a in enumerate(args) if _parse(a) is not None), len(args))
    return args[:first] + extra + args[first:]


def launch_args(args: list[str]) -> list[str]:
    """The command line Hydra composes (see the module docstring); raises ConfigError for a resume
    that cannot work."""
    side = [f"hydra.run.dir={side_dir()}", "hydra.output_subdir=null"] if joins_rank0() else []
    overrides = [o for o in map(_parse, args) if o is not None]
    resume = next((o.value() for o in overrides if o.key_or_group == RESUME_KEY and o.value()), None)
    if resume is None:
        return _insert(args, side)
    if any(a in MULTIRUN_FLAGS for a in args):
        raise ConfigError("trainer.resume continues one run; it cannot be swept. Resume each run on its own")
    run_dir = resume_run_dir(str(resume))
    if not (Path(str(resume)).exists() and is_run_folder(run_dir)):
        raise ConfigError(
            f"trainer.resume={resume}: no run folder or checkpoint there; "
            "give a run folder or its checkpoints/<Model>_last.pt"
        )
    choices = saved_choices(run_dir)
    groups = set(choices) | {
        p.name for p in CONF_DIR.iterdir() if p.is_dir()
    }  # a list of options is not a recorded choice
    switched = {_group(o): o.value() for o in overrides if _group(o) in groups}
    for group, value in switched.items():
        if str(value) != str(choices.get(group)):
            raise ConfigError(
                f"cannot switch {group}={value} when resuming a run trained with "
                f"{group}={choices.get(group, 'its own choice')}; start a new run instead"
            )
    own = [f"{group}={choice}" for group, choice in choices.items() if group not in switched and choice is not None]
    if joins_rank0():
        return _insert(args, own + side)
    session = f"{HYDRA_DIR}/resumed_{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    return _insert(args, own + [f"hydra.run.dir={run_dir}", f"hydra.output_subdir={session}"])


def restore_config(cfg: DictConfig, run_dir: Path) -> DictConfig:
    """The run's saved config with this command's ``key=value`` overrides applied; written over the
    composed config in this session's Hydra folder, so the record says what this session ran with."""
    saved = run_dir / HYDRA_DIR / CONFIG_FILE
    if not saved.is_file():
        raise ConfigError(f"{run_dir} has no {HYDRA_DIR}/{CONFIG_FILE}, so it is not a run folder signlang can resume")
    restored = OmegaConf.load(saved)
    if "callbacks" not in restored:
        commit = ((_read_json(run_dir / ENV_FILE).get("git") or {}).get("commit") or "its commit")[:12]
        raise ConfigError(
            f"{run_dir} was trained by a signlang from before callbacks (trainer.ema, trainer.monitor, "
            f"trainer.min_steps); resume it with that version: git checkout {commit}"
        )
    hydra = HydraConfig.get()
    groups = set(hydra.runtime.choices)
    for override in OverridesParser.create().parse_overrides(list(hydra.overrides.task)):
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


def load(run: RunFolder, model_name: str, resume: str, device) -> dict[str, Any]:
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
            f"{path} holds a {state.get('model_name', 'non-resumable')} checkpoint, not {model_name}; "
            "resume the run it came from"
        )
    done = run.recorded_epochs()
    if done and state["epoch"] < max(done):
        raise ConfigError(
            f"{path} is from epoch {state['epoch']}, but {run.metrics_path} already records epoch {max(done)}; "
            "resume from the run folder (its _last.pt) so no epoch is recorded twice"
        )
    return state


def load_weights(model: nn.Module, state: dict[str, Any]) -> None:
    """The weights training continues from: the stepped ones when the checkpoint also holds averaged ones."""
    try:
        model.load_state_dict(state.get("train_model", state["model"]))
    except RuntimeError as e:
        lines = str(e).splitlines()
        first = lines[1].strip() if len(lines) > 1 else str(e)
        raise ConfigError(
            f"the checkpoint does not fit this model ({first}); resume with the run's own model settings"
        ) from None


def restore(fit: Fit, state: dict[str, Any]) -> None:
    """Put the fit back where ``state`` left it, refuse to "continue" a finished run, then record the
    resumed session in the run folder."""
    fit.optimizer.load_state_dict(state["optimizer"])
    fit.scheduler.load_state_dict(state["scheduler"])
    fit.scaler.load_state_dict(state["scaler"])
    if fit.eval_model is not fit.model:  # averaged weights go on averaging
        fit.eval_model.load_state_dict(state["model"])
    saved = state.get("callbacks", {})
    for callback in fit.callbacks:
        if type(callback).__name__ in saved:
            callback.load_state_dict(saved[type(callback).__name__])
    loop = state["loop"]
    fit.loop.epoch, fit.loop.steps, fit.loop.history = loop["epoch"], loop["steps"], list(loop["history"])
    fit.summary.update({k: v for k, v in fit.run.read_summary().items() if k in ("best_epoch", "best")})
    set_rng_state(state["rng"])
    fit.run.checkpointed = (fit.model_name, fit.loop.epoch)  # what a later failure can resume from
    if fit.loop.steps >= fit.total_steps and fit.run.previous_status == "finished":
        raise ConfigError(
            f"the run already trained {fit.loop.steps} steps ({fit.loop.epoch} epochs), its full length; "
            "raise trainer.max_epochs (or trainer.max_steps) to continue it"
        )
    fit.run.start_resumed_session()
    fit.run.append_missing_metrics(fit.loop.history)  # rows a crash kept out of metrics.csv
    log.info(
        "resuming %s after epoch %d (step %d of %d)", fit.run.path, fit.loop.epoch, fit.loop.steps, fit.total_steps
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}

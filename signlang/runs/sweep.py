"""A sweep folder's job list: which overrides job ``i`` (folder ``<sweep>/<i>``) was launched with.

Rebuilt from the sweep's ``multirun.yaml`` (its overrides and ``hydra.sweeper.params``) the way
Hydra's basic sweeper expands them: every discrete sweep (``a=1,2``, ``range``, ``choice``) is one
axis, a later override of a key replaces an earlier one in its place, and jobs are the cartesian
product in override order. Only Hydra's public override API is used; ``tests/test_sweeps.py``
checks the result against the overrides Hydra itself recorded in each job's folder.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from signlang.core.errors import ConfigError, DataError

SWEEP_RECORD = "multirun.yaml"


def expand(overrides: list[str]) -> list[list[str]]:
    """Every job's overrides, in the order the basic sweeper numbers them."""
    axes: dict[str, list[str]] = {}
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.get_key_element()
        if not override.is_sweep_override():
            axes[key] = [f"{key}={override.get_value_element_as_str()}"]
        elif override.is_discrete_sweep():
            axes[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
        else:
            raise ConfigError(f"{key}: the basic sweeper cannot expand a {override.value_type.name} sweep")
    return [list(job) for job in itertools.product(*axes.values())]


def sweep_jobs(sweep_dir: Path) -> tuple[list[list[str]], Path]:
    """Every job's overrides, in job-number order, and the folder the sweep was launched from."""
    config_file = Path(sweep_dir) / SWEEP_RECORD
    if not config_file.is_file():
        raise DataError(f"{sweep_dir} has no {SWEEP_RECORD}; give the folder of a sweep (experiments/sweeps/<sweep>)")
    cfg = OmegaConf.load(config_file)
    sweeper = str(cfg.hydra.sweeper.get("_target_", ""))
    if not sweeper.endswith("BasicSweeper"):
        raise ConfigError(
            f"{sweep_dir} was made by {sweeper.rsplit('.', 1)[-1]}, whose jobs depend on its own search state; "
            "run the same command again (with hydra.sweeper.storage set, Optuna continues the study)"
        )
    params = [f"{k}={v}" for k, v in (cfg.hydra.sweeper.get("params") or {}).items()]
    return expand(params + list(cfg.hydra.overrides.task)), Path(cfg.hydra.runtime.cwd)

"""Shared fixtures: Hydra composition, tiny on-disk datasets, and the real data in ../shared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from signlang.config import register_resolvers
from signlang.data.synthetic import SyntheticData

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
SHARED = REPO.parent / "shared" / "data"

register_resolvers()


def compose_config(*overrides: str, hydra: bool = False) -> DictConfig:
    """The config ``python run.py <overrides>`` would see."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=hydra)


def tiny_synthetic(kind: str = "keypoints", **kw) -> SyntheticData:
    options = dict(num_gloss=6, num_cat=2, train_per_gloss=4, val_per_gloss=2, test_per_gloss=2, min_len=6, max_len=12)
    options.update(kw)
    dims = {"keypoints": 156, "features": 2048}
    return SyntheticData(input_dim=dims[kind], batch_size=8, **options)


@pytest.fixture
def npz_root(tmp_path: Path) -> Path:
    """A tiny dataset in the seed layout (keypoints_{train,val,test}/ + CSVs), with X, mask and X2048."""
    return tiny_synthetic().export(tmp_path / "data")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python run.py <args>`` (or any script) in a subprocess, as a user would."""
    base = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "SIGNLANG_DEBUG")}
    env = {**base, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> dict[str, Path]:
    """One short finished run on an .npz dataset with a test split and label names (shared by tests)."""
    base = tmp_path_factory.mktemp("trained")
    root = tiny_synthetic().export(base / "data")
    names = base / "names.csv"
    names.write_text("id,label,category\n" + "".join(f"{i},SIGN {i},{'HANDS' if i < 3 else 'FACE'}\n" for i in range(6)))
    result = run_cli(
        "run.py", "data=keypoints", f"data.root={root}", "data.num_gloss=6", "data.num_cat=2",
        "data.test_dir=${data.root}/keypoints_test", "data.test_labels=${data.root}/test_labels.csv",
        f"data.label_names={names}", "trainer.max_epochs=2", "trainer.min_steps=null", "model.d_model=32", "model.num_heads=4",
        "model.dim_feedforward=64", "model.num_layers=1", f"hydra.run.dir={base / 'run'}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return {"run": base / "run", "data": root, "names": names}

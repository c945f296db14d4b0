"""Shared fixtures: Hydra composition, tiny on-disk datasets, and the real data in ../shared."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from signlang.data.synthetic import SyntheticData
from signlang.runs.folder import register_resolvers

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
SHARED = REPO.parent / "shared" / "data"

register_resolvers()


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist every worker (and each run it starts) keeps to one thread: the workers are the
    parallelism, and two workers each spinning two OpenMP threads on two cores would slow both."""
    if hasattr(config, "workerinput"):
        os.environ["OMP_NUM_THREADS"] = "1"
        os.environ["MKL_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)


def compose_config(*overrides: str, hydra: bool = False) -> DictConfig:
    """The config ``python run.py <overrides>`` would see."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=hydra)


def build_model(name: str, **overrides):
    """The model ``conf/model/<name>.yaml`` builds (the one place its defaults live), for 6 glosses in 2
    categories unless ``overrides`` say otherwise. Built by calling the class, so its own errors
    (ConfigError) reach the test unwrapped."""
    from hydra.utils import get_class

    settings = OmegaConf.to_container(OmegaConf.load(CONF / "model" / f"{name}.yaml"))
    cls = get_class(settings.pop("_target_"))
    return cls(**{**settings, "num_gloss": 6, "num_cat": 2, **overrides})


def small_transformer():
    """A one-layer SignTransformer of the YAML's kind, small enough for many short fits."""
    return build_model("transformer", d_model=32, num_layers=1, num_heads=4, dim_feedforward=64)


def default_callbacks(**checkpoint):
    """What conf/callbacks/default.yaml builds (without the progress bar)."""
    from signlang.training.callbacks import Checkpoint, Console, FiniteLoss, Rejection

    return [Checkpoint(**checkpoint), FiniteLoss(), Console(progress=False), Rejection()]


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


def run_cli(
    *args: str, cwd: Path | None = None, timeout: int = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``python run.py <args>`` (or any script) in a subprocess, as a user would."""
    base = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "SIGNLANG_DEBUG")}
    env = {**base, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def run_app(*args: str) -> subprocess.CompletedProcess:
    """``python run.py <args>``, in this process: the same command-line handling, Hydra app, exit
    statuses and console output as the script, without paying for a new interpreter (the tests
    that are about the process itself, signals and torchrun, use :func:`run_cli`)."""
    import contextlib
    import io
    import logging
    import runpy

    import torch
    from hydra.core.global_hydra import GlobalHydra

    out, err, argv, cwd = io.StringIO(), io.StringIO(), sys.argv, os.getcwd()
    code: int | str | None = 0
    os.environ.pop("HYDRA_FULL_ERROR", None)
    try:
        os.chdir(REPO)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                sys.argv = [str(REPO / "run.py"), *args]
                runpy.run_path(str(REPO / "run.py"), run_name="__main__")  # as `signlang train` runs it
            except SystemExit as exit_:
                code = exit_.code
    finally:
        sys.argv = argv
        os.chdir(cwd)
        GlobalHydra.instance().clear()
        torch.use_deterministic_algorithms(False)
        root = logging.getLogger()
        for handler in list(root.handlers):  # the run's console and run.log handlers
            root.removeHandler(handler)
            handler.close()
    if isinstance(code, str):  # SystemExit("error: ...") prints its message and exits 1
        err.write(code + "\n")
        code = 1
    return subprocess.CompletedProcess(["run.py", *args], code or 0, out.getvalue(), err.getvalue())


def run_command(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``signlang <args>``, in this process (the command-line parsing, exit status and output of the
    real command; ``test_the_commands_themselves`` runs the installed entry point once)."""
    import contextlib
    import io
    import logging

    from signlang.commands.cli import main

    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    try:
        os.chdir(cwd or REPO)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.chdir(here)
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
    return subprocess.CompletedProcess(["signlang", *args], code or 0, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def local_server(command: Callable[[int], list[str]], health: str, log: Path, timeout: float = 90) -> Iterator[str]:
    """Start ``command(port)`` on a free port of 127.0.0.1, wait until ``health`` answers 200, yield its
    URL, and stop it afterwards; its output goes to ``log`` (shown when it does not start)."""
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        # its own process group: mlflow server runs gunicorn workers that outlive a signal to mlflow alone
        server = subprocess.Popen(command(port), cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + timeout
            while True:
                try:
                    if urllib.request.urlopen(f"{url}{health}", timeout=1).status == 200:
                        break
                except OSError:
                    if server.poll() is not None or time.time() > deadline:
                        pytest.fail(f"{command(port)[:4]} did not start: {Path(log).read_text()[-2000:]}")
                    time.sleep(0.2)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> dict[str, Path]:
    """One short finished run on an .npz dataset with a test split and label names (shared by tests)."""
    base = tmp_path_factory.mktemp("trained")
    root = tiny_synthetic().export(base / "data")
    names = base / "names.csv"
    names.write_text(
        "id,label,category\n" + "".join(f"{i},SIGN {i},{'HANDS' if i < 3 else 'FACE'}\n" for i in range(6))
    )
    args = [
        "data=keypoints",
        f"data.root={root}",
        "data.num_gloss=6",
        "data.num_cat=2",
        "data.test_dir=${data.root}/keypoints_test",
        "data.test_labels=${data.root}/test_labels.csv",
        f"data.label_names={names}",
        "trainer.max_epochs=2",
        "model.d_model=32",
        "model.num_heads=4",
        "model.dim_feedforward=64",
        "model.num_layers=1",
    ]
    result = run_app(*args, f"hydra.run.dir={base / 'run'}")
    assert result.returncode == 0, result.stdout + result.stderr
    return {"run": base / "run", "data": root, "names": names, "args": args}


def with_rest(x, mask, frames: int = 15):
    """A clip with the signer at rest before and after: hands not found, the body where it was."""
    import numpy as np

    from signlang.core.layout import LEFT_HAND, RIGHT_HAND

    rest_x = np.repeat(x[:1], frames, axis=0)
    rest_m = np.repeat(mask[:1], frames, axis=0)
    for hand in (LEFT_HAND, RIGHT_HAND):
        rest_m[:, hand.start : hand.stop] = False
        rest_x[:, 2 * hand.start : 2 * hand.stop] = 0
    return np.concatenate([rest_x, x, rest_x]), np.concatenate([rest_m, mask, rest_m])

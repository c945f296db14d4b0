"""Reproducible runs, exact resumes, and runs that stop cleanly on signals (signals on real processes;
the rest in-process through the same Hydra app)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, run_app
from omegaconf import OmegaConf

from signlang.runs.checkpoints import load_checkpoint, save_checkpoint

TINY = [
    "data.num_gloss=4",
    "data.num_cat=2",
    "data.train_per_gloss=6",
    "data.val_per_gloss=3",
    "data.test_per_gloss=2",
    "data.min_len=4",
    "data.max_len=10",
    "model.d_model=32",
    "model.num_heads=4",
    "model.dim_feedforward=64",
    "model.num_layers=1",
    "scheduler=none",
    "callbacks.console.progress=false",
]


def metrics(folder: Path) -> list[dict[str, str]]:
    with open(folder / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for timing in ("epoch_time_s", "train_time_s", "data_wait"):
            row.pop(timing)
    return rows


def train(folder: Path, *extra: str) -> subprocess.CompletedProcess:
    result = run_app(*TINY, f"hydra.run.dir={folder}", *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_same_seed_same_metrics_and_resume_matches_an_uninterrupted_run(tmp_path):
    train(tmp_path / "a", "trainer.max_epochs=4")
    train(tmp_path / "b", "trainer.max_epochs=4", "trainer.deterministic=true")
    assert metrics(tmp_path / "a") == metrics(tmp_path / "b")  # identical numbers, timing aside

    train(tmp_path / "part", "trainer.max_epochs=2")
    (tmp_path / "part" / ".hydra" / "config.yaml").touch()
    original_config = (tmp_path / "part" / ".hydra" / "config.yaml").read_text()
    # The resumed run needs none of the original overrides: it restores the run's own config.
    result = run_app(f"trainer.resume={tmp_path / 'part'}", "trainer.max_epochs=4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "expected time for the 2 steps left" in result.stdout + result.stderr  # 1 step per epoch, 2 of 4 done
    assert metrics(tmp_path / "part") == metrics(tmp_path / "a")
    assert (tmp_path / "part" / ".hydra" / "config.yaml").read_text() == original_config
    summary = json.loads((tmp_path / "part" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_completed"] == 4 and len(summary["resumed"]) == 1
    assert not (tmp_path / "runs").exists()  # no new folder for the resumed session
    assert load_checkpoint(tmp_path / "part" / "checkpoints" / "SignTransformer_last.pt")["epoch"] == 4


def test_a_resumed_session_records_the_config_it_ran_with(tmp_path):
    train(tmp_path / "run", "trainer.max_epochs=1", "data.noise=0.01")  # a key the default composition has too
    result = run_app(f"trainer.resume={tmp_path / 'run'}", "trainer.max_epochs=2", "data.min_len=5")
    assert result.returncode == 0, result.stdout + result.stderr
    (session,) = (tmp_path / "run" / ".hydra").glob("resumed_*")
    cfg = OmegaConf.load(session / "config.yaml")
    assert (cfg.trainer.max_epochs, cfg.data.min_len, cfg.data.noise, cfg.model.d_model) == (
        2,
        5,
        0.01,
        32,
    )  # not the defaults
    assert cfg.trainer.resume == str(tmp_path / "run")


def test_a_run_measured_in_steps_ends_mid_epoch_and_resumes_exactly(tmp_path):
    steps = [
        "data.batch_size=8",
        "callbacks=[default,ema]",
        "callbacks.ema.decay=0.9",
    ]  # 24 training clips: 3 steps an epoch
    train(tmp_path / "whole", *steps, "trainer.max_steps=8")
    assert [int(r["step"]) for r in metrics(tmp_path / "whole")] == [3, 6, 8]
    train(tmp_path / "part", *steps, "trainer.max_steps=6")
    result = run_app(f"trainer.resume={tmp_path / 'part'}", "trainer.max_steps=8")
    assert result.returncode == 0, result.stdout + result.stderr
    assert metrics(tmp_path / "part") == metrics(tmp_path / "whole")
    assert json.loads((tmp_path / "part" / "summary.json").read_text())["steps_completed"] == 8


def test_seed_changes_the_numbers(tmp_path):
    train(tmp_path / "a", "trainer.max_epochs=1")
    train(tmp_path / "b", "trainer.max_epochs=1", "trainer.seed=1")
    assert metrics(tmp_path / "a") != metrics(tmp_path / "b")


def test_resume_refuses_what_it_cannot_continue(tmp_path):
    result = run_app(f"trainer.resume={tmp_path / 'missing'}", f"paths.output_root={tmp_path}")
    assert (
        result.returncode != 0 and "no run folder or checkpoint" in result.stderr and "Traceback" not in result.stderr
    )
    assert list(tmp_path.iterdir()) == []  # nothing was created

    train(tmp_path / "run", "trainer.max_epochs=1")
    for switch in ("model=iv3_gru", "transform=none", "recipe=none", "experiment=smoke"):  # every group alike
        result = run_app(f"trainer.resume={tmp_path / 'run'}", switch)
        out = result.stdout + result.stderr
        assert result.returncode == 2 and f"cannot switch {switch} when resuming" in out and "Traceback" not in out

    result = run_app(f"trainer.resume={tmp_path / 'run'}", "trainer.max_epochs=1")
    assert result.returncode == 2 and "raise trainer.max_epochs" in result.stdout + result.stderr

    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "finished" and "resumed" not in summary  # refused resumes leave no trace

    ckpts = tmp_path / "run" / "checkpoints"
    (ckpts / "SignTransformer_last.pt").rename(ckpts / "InceptionV3GRU_last.pt")
    result = run_app(f"trainer.resume={tmp_path / 'run'}", "trainer.max_epochs=3")
    assert result.returncode == 2 and "a checkpoint from a different model" in result.stdout + result.stderr
    assert len(metrics(tmp_path / "run")) == 1


def start(folder: Path, *extra: str) -> subprocess.Popen:
    """A real ``python run.py`` process, to send signals to."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "run.py", *TINY, f"hydra.run.dir={folder}", *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_epochs(folder: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if (folder / "metrics.csv").exists() and len((folder / "metrics.csv").read_text().splitlines()) > n:
            return
        time.sleep(0.02)
    raise AssertionError(f"no {n} epochs in time: {proc.stdout.read() if proc.poll() is not None else ''}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_cleanly_and_the_run_resumes_without_losing_an_epoch(tmp_path, sig):
    folder = tmp_path / "run"
    proc = start(folder, "trainer.max_epochs=200")
    wait_for_epochs(folder, 2, proc)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig and "Traceback" not in out and "interrupted" in out
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    done = len(metrics(folder))
    last = load_checkpoint(folder / "checkpoints" / "SignTransformer_last.pt")
    assert last["epoch"] == done == summary["epochs_completed"]

    result = run_app(f"trainer.resume={folder}", f"trainer.max_epochs={done + 2}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [int(r["epoch"]) for r in metrics(folder)] == list(range(1, done + 3))


def test_a_second_writer_is_refused_while_the_run_trains_and_let_in_once_its_process_died(tmp_path):
    """python run.py trainer.resume=RUN from another terminal (or a scheduler's retry) while RUN trains:
    refused before anything is written, naming the process; after that process is killed, the resume
    goes on, and metrics.csv has every epoch once."""
    folder = tmp_path / "run"
    proc = start(folder, "trainer.max_epochs=400")
    wait_for_epochs(folder, 2, proc)
    second = run_app(f"trainer.resume={folder}", "trainer.max_epochs=500")
    out = second.stdout + second.stderr
    assert second.returncode == 1 and "Traceback" not in out
    assert f"{folder} is being written by process {proc.pid}" in out and "one writer at a time" in out
    assert not list((folder / ".hydra").glob("resumed_*"))  # nothing of the refused session was written
    proc.send_signal(signal.SIGKILL)  # as a power cut would: no clean-up at all
    proc.wait(timeout=30)
    done = len(metrics(folder))
    result = run_app(f"trainer.resume={folder}", f"trainer.max_epochs={done + 2}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [int(r["epoch"]) for r in metrics(folder)] == list(range(1, done + 3))


def test_sigkill_in_the_middle_of_a_save_leaves_the_previous_checkpoint(tmp_path):
    """A process killed while a checkpoint is half written (the writer blocks there, so the kill always
    lands mid-save): the previous file is intact, only a temp file is left."""
    path = tmp_path / "SignTransformer_last.pt"
    save_checkpoint(path, {"epoch": 1})
    writing = tmp_path / "writing"
    code = (
        "import time\nfrom pathlib import Path\nfrom signlang.core.files import atomic_write\n"
        f"def write(f):\n    f.write(b'half a checkpoint'); f.flush(); Path({str(writing)!r}).touch(); time.sleep(60)\n"
        f"atomic_write(Path({str(path)!r}), write)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    deadline = time.time() + 60
    while not writing.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert writing.exists(), "the writer never started"
    proc.kill()
    proc.wait(timeout=30)
    assert load_checkpoint(path)["epoch"] == 1
    assert len(list(tmp_path.glob(".SignTransformer_last.pt.*.tmp"))) == 1  # what the kill left behind


def test_resuming_cleans_up_what_a_killed_save_left(tmp_path):
    folder = tmp_path / "run"
    train(folder, "trainer.max_epochs=1")
    stale = folder / "checkpoints" / ".SignTransformer_last.pt.12345.tmp"
    stale.write_bytes(b"half a checkpoint")
    result = run_app(f"trainer.resume={folder}", "trainer.max_epochs=2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not stale.exists() and [int(r["epoch"]) for r in metrics(folder)] == [1, 2]


def test_hydra_flags_pass_through_and_a_resume_gets_its_runs_choices(tmp_path):
    from signlang.training.resume import launch_args

    assert launch_args(["--cfg", "job", "model=gru"]) == ["--cfg", "job", "model=gru"]
    train(tmp_path / "run", "trainer.max_epochs=1")
    args = launch_args(["--cfg", "job", f"trainer.resume={tmp_path / 'run'}", "trainer.max_epochs=3"])
    assert args[:2] == ["--cfg", "job"] and "model=transformer" in args and "scheduler=none" in args
    assert f"hydra.run.dir={tmp_path / 'run'}" in args and any(
        a.startswith("hydra.output_subdir=.hydra/resumed_") for a in args
    )
    assert args.index("model=transformer") < args.index("trainer.max_epochs=3")  # the command's overrides come last

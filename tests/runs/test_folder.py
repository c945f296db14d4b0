"""What a run folder survives: a full disk, a read-only or vanished folder. Each ends in one message
naming the file and the epoch the run can be resumed from; the previous checkpoint stays loadable,
metrics.csv keeps whole rows, and a resume finishes the run."""

from __future__ import annotations

import csv
import errno
import functools
import logging
import os
import re
import shutil
import subprocess

import pytest
import torch
from conftest import REPO, default_callbacks, run_cli, small_transformer, tiny_synthetic

from signlang.runs import folder as folder_module
from signlang.runs.checkpoints import load_checkpoint
from signlang.runs.folder import RunFolder, RunNotWritten
from signlang.training.callbacks import Callback
from signlang.training.schedulers import cosine
from signlang.training.trainer import Trainer

NO_SPACE = "No space left on device"


def disk_full_after(monkeypatch, saves: int, summaries: bool = False) -> None:
    """Checkpoint writes (and with ``summaries``, every other file of the run too) fail with ENOSPC once
    ``saves`` checkpoint files were written, as on a disk that just filled up."""
    real_save, real_write = folder_module.save_checkpoint, folder_module.atomic_write
    done = {"saves": 0}

    def save(path, state):
        if done["saves"] >= saves:
            raise OSError(errno.ENOSPC, NO_SPACE, str(path))
        done["saves"] += 1
        real_save(path, state)

    def write(path, fn):
        if summaries and done["saves"] >= saves:
            raise OSError(errno.ENOSPC, NO_SPACE, str(path))
        real_write(path, fn)

    monkeypatch.setattr(folder_module, "save_checkpoint", save)
    monkeypatch.setattr(folder_module, "atomic_write", write)


def fit_recorded(tmp_path, callbacks=None) -> RunFolder:
    """Five epochs of three steps, recorded as run.py records a run (summary.json says how it ended)."""
    run = RunFolder(tmp_path / "run")
    with run.recording():
        torch.manual_seed(0)
        trainer = Trainer(max_epochs=5, device="cpu", callbacks=callbacks or default_callbacks())
        trainer.fit(small_transformer(), tiny_synthetic(), functools.partial(torch.optim.AdamW, lr=3e-3), cosine, run)
    return run


def epochs(run_dir) -> list[int]:
    return [int(r["epoch"]) for r in csv.DictReader(open(run_dir / "metrics.csv"))]


def test_a_full_disk_ends_the_run_with_one_message_naming_the_file_and_the_epoch_to_resume_from(tmp_path, monkeypatch):
    disk_full_after(monkeypatch, saves=2)  # epoch 1 writes best and last; epoch 2's first save fails
    with pytest.raises(RunNotWritten) as stopped:
        fit_recorded(tmp_path)
    message = str(stopped.value)
    checkpoints = re.escape(str(tmp_path / "run" / "checkpoints"))
    assert re.search(rf"could not write {checkpoints}/SignTransformer_(best|last)\.pt \({NO_SPACE}\)", message)
    assert "resumable from epoch 1" in message and f"trainer.resume={tmp_path / 'run'}" in message
    assert stopped.value.__cause__ is None and stopped.value.__suppress_context__  # one message, nothing chained
    run = RunFolder(tmp_path / "run")
    assert run.read_summary()["status"] == "failed" and run.read_summary()["error"] == message
    assert load_checkpoint(run.checkpoint_path("SignTransformer", "last"))["epoch"] == 1  # the previous one, whole
    assert epochs(run.path) == [1] and not list((run.path / "checkpoints").glob(".*.tmp"))


def test_when_nothing_can_be_written_any_more_there_is_still_one_message(tmp_path, monkeypatch, caplog):
    disk_full_after(monkeypatch, saves=2, summaries=True)
    with caplog.at_level(logging.WARNING), pytest.raises(RunNotWritten, match="resumable from epoch 1"):
        fit_recorded(tmp_path)
    assert any("summary.json could not record that the run failed" in r.getMessage() for r in caplog.records)
    assert RunFolder(tmp_path / "run").read_summary()["status"] == "running"  # as the disk left it; `runs` tells


class RemoveTheFolder(Callback):
    """Somebody deletes the run folder while it trains (a clean-up script, a mistaken rm -r)."""

    order = 95

    def on_epoch_end(self, fit, row) -> None:
        if row["epoch"] == 2:
            shutil.rmtree(fit.run.path)


def test_a_run_folder_removed_under_a_running_run_is_named_and_never_half_brought_back(tmp_path):
    with pytest.raises(RunNotWritten, match=r"the run folder .* is gone, and the run with it"):
        fit_recorded(tmp_path, callbacks=[*default_callbacks(), RemoveTheFolder()])
    assert not (tmp_path / "run").exists()


def test_a_metrics_row_that_could_not_be_written_leaves_no_half_row(tmp_path, monkeypatch):
    run = RunFolder(tmp_path / "run")
    row = {"epoch": 1, "step": 3, **dict.fromkeys(["train_loss", "val_loss", "lr"], 0.5)}
    row = {k: row.get(k, 0.0) for k in folder_module.METRIC_COLUMNS}
    run.append_metrics(row)
    before = run.metrics_path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, NO_SPACE)

    monkeypatch.setattr(folder_module.os, "fsync", full)
    with pytest.raises(OSError):
        run.append_metrics({**row, "epoch": 2})
    assert run.metrics_path.read_bytes() == before


def tmpfs(where, size: str) -> bool:
    """A small file system of our own (root only: where it cannot be mounted the test says so and skips)."""
    where.mkdir()
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
        ).returncode
        == 0
    )


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    if os.geteuid() != 0 or not tmpfs(disk, "600k"):
        pytest.skip("cannot mount a small tmpfs here (needs root); the in-process tests above cover the same paths")
    yield disk
    subprocess.run(["umount", str(disk)], capture_output=True)


def test_a_real_full_disk_then_room_again_then_a_read_only_disk(small_disk):
    """As a user meets it: python run.py on a disk that fills after the first epoch (600 kB; a checkpoint
    is ~240 kB and a save needs room for a second copy), then a resume once there is room, then a resume
    of that run on a read-only disk."""
    tiny = [
        "experiment=smoke",
        "trainer.max_epochs=6",
        "trainer.limit_train_batches=null",
        "model.d_model=32",
        "model.num_heads=4",
        "model.dim_feedforward=64",
        "model.num_layers=1",
        "callbacks.console.progress=false",
    ]
    first = run_cli("run.py", *tiny, f"paths.output_root={small_disk}")
    out = first.stdout + first.stderr
    (run_dir,) = (small_disk / "runs").iterdir()
    assert first.returncode == 2 and "Traceback" not in out and out.count("ERROR") == 1, out
    assert f"({NO_SPACE}). The run stopped; it is resumable from epoch 1" in out
    subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
    resumed = run_cli("run.py", f"trainer.resume={run_dir}", cwd=REPO)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert epochs(run_dir) == [1, 2, 3, 4, 5, 6]
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    refused = run_cli("run.py", f"trainer.resume={run_dir}", "trainer.max_epochs=8")
    out = refused.stdout + refused.stderr
    assert (
        refused.returncode == 1
        and f"cannot write to {run_dir} (Read-only file system)" in out
        and "Traceback" not in out
    )

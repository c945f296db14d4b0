"""torchrun with 2 CPU processes (gloo): one complete run folder, and the numbers of a single process
(the single-process runs in-process)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import run_app, run_cli

from signlang.runs.checkpoints import load_checkpoint

# One batch per epoch (24 clips, batch 32) and no dropout: both ranks then see the same clips and
# DDP's averaged gradient equals the single process's, so every number must agree.
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
    "model.dropout=0.0",
    "callbacks.console.progress=false",
    "scheduler=none",
]


def rows(folder: Path) -> list[dict[str, float]]:
    with open(folder / "metrics.csv") as f:
        return [
            {k: float(v) for k, v in r.items() if not k.endswith(("time_s", "data_wait"))} for r in csv.DictReader(f)
        ]


def test_two_gloo_processes_write_one_folder_with_single_process_numbers_and_resume_in_it(tmp_path):
    """One complete run folder for both ranks, the numbers of a single process; resumed under torchrun:
    same folder, rows appended, the numbers of a single-process resume."""
    tiny = [*TINY, "trainer.max_epochs=1"]
    single = run_app(*tiny, f"paths.output_root={tmp_path / 'single'}")
    assert single.returncode == 0, single.stdout + single.stderr
    ddp = ["-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", "run.py"]
    scratch = tmp_path / "tmp"  # the processes' temporary folder: rank 1 leaves nothing behind in it
    scratch.mkdir()
    first = run_cli(*ddp, *tiny, f"paths.output_root={tmp_path / 'ddp'}", timeout=300, env={"TMPDIR": str(scratch)})
    assert first.returncode == 0, first.stdout + first.stderr
    (single_folder,) = (tmp_path / "single" / "runs").iterdir()
    (folder,) = (tmp_path / "ddp" / "runs").iterdir()  # one run folder for both ranks, nothing else
    assert list((tmp_path / "ddp").iterdir()) == [tmp_path / "ddp" / "runs"]
    for name in (
        ".hydra/config.yaml",
        "metrics.csv",
        "summary.json",
        "eval/test/metrics.json",
        "checkpoints/SignTransformer_last.pt",
    ):
        assert (folder / name).exists(), name
    assert "distributed: 2 processes (gloo)" in (folder / "run.log").read_text()
    assert not list(scratch.glob("signlang-*")), list(scratch.iterdir())
    before = (folder / "metrics.csv").read_text()

    again = run_cli(*ddp, f"trainer.resume={folder}", "trainer.max_epochs=2", timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert run_app(f"trainer.resume={single_folder}", "trainer.max_epochs=2").returncode == 0
    assert list((tmp_path / "ddp" / "runs").iterdir()) == [folder]  # no new folder for either rank
    assert (folder / "metrics.csv").read_text().startswith(before)  # epoch 1 kept as it was
    assert len(list((folder / ".hydra").glob("resumed_*"))) == 1
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_completed"] == 2
    assert load_checkpoint(folder / "checkpoints" / "SignTransformer_last.pt")["epoch"] == 2
    for a, b in zip(rows(single_folder), rows(folder), strict=True):
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), key
    single_test = json.loads((single_folder / "summary.json").read_text())["final"]
    assert summary["final"]["gloss_acc"] == pytest.approx(single_test["gloss_acc"])

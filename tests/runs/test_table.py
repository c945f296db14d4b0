"""`signlang runs`: every folder listed (broken ones with their problem), filters, sorting, seed groups."""

from __future__ import annotations

import csv
import json
import shutil
import socket
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
from rich.console import Console

from signlang.commands.runs import run as run_runs
from signlang.runs.table import collect, seed_groups, select


def summary(folder: Path, **fields) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    base = {
        "status": "finished",
        "choices": {"model": "transformer", "data": "synthetic"},
        "overrides": [],
        "epochs_completed": 3,
        "max_epochs": 3,
        "wall_time_s": 12.0,
        "started_at": "2026-01-01 00:00:00",
    }
    (folder / "summary.json").write_text(json.dumps({**base, **fields}))


def finished(folder: Path, val: float, test: float, **fields) -> None:
    summary(
        folder,
        best={"val_gloss_acc": val, "val_cat_acc": 1.0},
        final={"split": "test", "gloss_acc": test, "cat_acc": 0.9},
        **fields,
    )


@pytest.fixture
def experiments(tmp_path, trained_run) -> Path:
    root = tmp_path / "experiments"
    shutil.copytree(trained_run["run"], root / "runs" / "real")
    finished(
        root / "runs" / "a",
        0.8,
        0.7,
        started_at="2026-01-02 00:00:00",
        choices={"model": "iv3_gru", "data": "features"},
    )
    summary(
        root / "runs" / "failed", status="failed", error="data directory not found: x", started_at="2026-01-03 00:00:00"
    )
    summary(root / "runs" / "interrupted", status="interrupted", epochs_completed=1, started_at="2026-01-04 00:00:00")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    summary(
        root / "runs" / "died",
        status="running",
        pid=dead.pid,
        host=socket.gethostname(),
        started_at="2026-01-05 00:00:00",
    )
    (root / "runs" / "empty").mkdir()
    (root / "runs" / "broken").mkdir()
    (root / "runs" / "broken" / "summary.json").write_text("{half")
    (root / "runs" / "nosummary" / ".hydra").mkdir(parents=True)
    sweep = root / "sweeps" / "s"
    sweep.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("{}")
    for job, (lr, seed, test) in enumerate([("0.1", 0, 0.5), ("0.1", 1, 0.7), ("0.01", 0, 0.9), ("0.01", 1, 0.8)]):
        finished(
            sweep / str(job),
            test,
            test,
            overrides=[f"optim.lr={lr}", f"trainer.seed={seed}"],
            started_at=f"2026-02-0{job + 1} 00:00:00",
        )
    return root


def test_every_folder_is_listed_and_none_crashes(experiments):
    rows = {r.folder: r for r in collect(experiments)}
    assert set(rows) == {
        f"runs/{n}" for n in ("real", "a", "failed", "interrupted", "died", "empty", "broken", "nosummary")
    } | {f"sweeps/s/{j}" for j in range(4)}
    assert rows["runs/real"].status == "finished" and rows["runs/real"].test_gloss is not None
    assert rows["runs/failed"].status == "failed" and "data directory" in rows["runs/failed"].problem
    assert rows["runs/interrupted"].status == "interrupted"
    assert rows["runs/died"].status == "interrupted" and "is gone" in rows["runs/died"].problem
    assert rows["runs/empty"].problem == "empty folder"
    assert "unreadable" in rows["runs/broken"].problem
    assert "no summary.json" in rows["runs/nosummary"].problem


def test_filter_sort_last_and_csv(experiments, tmp_path):
    rows = collect(experiments)
    assert [r.folder for r in select(rows, filters=["model=iv3_gru"])] == ["runs/a"]
    assert [r.folder for r in select(rows, filters=["status=failed", "model=transformer"])] == ["runs/failed"]
    assert [r.folder for r in select(rows, filters=["optim.lr=0.01"])] == ["sweeps/s/2", "sweeps/s/3"]
    best = select(rows, sort="test_gloss")
    assert best[0].folder == "sweeps/s/2" and best[-1].test_gloss is None
    assert [r.folder for r in select(rows, last=2)] == ["sweeps/s/3", "runs/real"]  # the real run started today
    out = tmp_path / "runs.csv"
    console = Console(file=open(tmp_path / "out.txt", "w"), width=250)
    args = Namespace(root=str(experiments), sort="started", filter=[], last=None, csv=str(out))
    assert run_runs(args, console) == 0
    exported = list(csv.DictReader(open(out)))
    assert len(exported) == 12 and {"folder", "status", "val_gloss", "test_gloss", "problem"} <= set(exported[0])


def test_sweep_groups_ignore_the_seed(experiments):
    groups = {tuple(g["overrides"]): g for g in seed_groups(collect(experiments / "sweeps" / "s"))}
    assert set(groups) == {("optim.lr=0.1",), ("optim.lr=0.01",)}
    mean, std, n = groups[("optim.lr=0.1",)]["test_gloss"]
    assert (mean, n) == (pytest.approx(0.6), 2) and std == pytest.approx(0.1414, abs=1e-3)
    assert groups[("optim.lr=0.01",)]["test_gloss"][0] == pytest.approx(0.85)
    console = Console(file=open(experiments / "out.txt", "w"), width=250)
    run_runs(Namespace(root=str(experiments / "sweeps" / "s"), sort="started", filter=[], last=None, csv=None), console)
    text = (experiments / "out.txt").read_text()
    assert "0.600 ± 0.141 (n=2)" in text and "grouped by overrides" in text


def test_cross_validation_folds_and_seeds_of_one_setting_are_one_group(tmp_path):
    sweep = tmp_path / "sweep"
    jobs = [(m, fold, seed) for m in ("transformer", "gru") for fold in (0, 1) for seed in (0, 1)]
    for job, (model, fold, seed) in enumerate(jobs):
        val = {"transformer": 0.8, "gru": 0.6}[model] + 0.1 * fold
        overrides = [f"model={model}", "data.val_folds=2", f"data.val_fold={fold}", f"trainer.seed={seed}"]
        finished(sweep / str(job), val, 0.5, overrides=overrides)
    groups = {tuple(g["overrides"]): g for g in seed_groups(collect(sweep))}
    assert set(groups) == {("model=transformer",), ("model=gru",)}
    mean, _, n = groups[("model=transformer",)]["val_gloss"]
    assert (mean, n) == (pytest.approx(0.85), 4)  # the cross-validated val: both folds, both seeds


def test_cli_on_empty_and_missing_roots(tmp_path):
    from conftest import run_command

    (tmp_path / "experiments").mkdir()
    result = run_command("runs", str(tmp_path / "experiments"))
    assert result.returncode == 0 and "no runs" in result.stdout
    result = run_command("runs", str(tmp_path / "missing"))
    assert result.returncode == 1 and "is not a folder" in result.stdout

"""Eight runs started at once into one experiments/ folder: four fresh ones, three resumes (one of
them started twice at the same moment), and one killed outright mid-run. Every run folder ends
consistent, and ``signlang runs`` lists each with its true status."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

from conftest import REPO, run_app, run_command

from signlang.runs.checkpoints import load_checkpoint
from signlang.runs.table import collect

TINY = [
    "experiment=smoke",
    "trainer.limit_train_batches=null",
    "model.d_model=32",
    "model.num_heads=4",
    "model.dim_feedforward=64",
    "model.num_layers=1",
    "callbacks.console.progress=false",
]


def start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "run.py", *TINY, *args],
        cwd=REPO,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def epochs(folder) -> list[int]:
    with open(folder / "metrics.csv") as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


def test_eight_runs_at_once_leave_every_folder_consistent_and_listed_as_it_is(tmp_path):
    exp = tmp_path / "experiments"
    earlier = [exp / "runs" / f"earlier_{i}" for i in range(3)]
    for folder in earlier:  # three runs of one epoch, to be resumed
        assert run_app(*TINY, "trainer.max_epochs=1", f"hydra.run.dir={folder}").returncode == 0

    fresh = [start("trainer.max_epochs=2", f"paths.output_root={exp}") for _ in range(4)]
    twice = [start(f"trainer.resume={earlier[0]}", "trainer.max_epochs=3") for _ in range(2)]
    resumed = [start(f"trainer.resume={folder}", "trainer.max_epochs=3") for folder in earlier[1:]]
    killed_dir = exp / "runs" / "killed"
    killed = start("trainer.max_epochs=5000", f"hydra.run.dir={killed_dir}")
    deadline = time.time() + 240
    while not ((killed_dir / "metrics.csv").is_file() and epochs(killed_dir)):
        assert killed.poll() is None and time.time() < deadline, "the long run never finished an epoch"
        time.sleep(0.1)
    killed.send_signal(signal.SIGKILL)
    outputs = {p: p.communicate(timeout=max(10, deadline - time.time()))[0] for p in [*fresh, *twice, *resumed]}
    killed.wait(timeout=30)

    assert all(p.returncode == 0 for p in [*fresh, *resumed]), [
        outputs[p][-2000:] for p in fresh + resumed if p.returncode
    ]
    (won,) = [p for p in twice if p.returncode == 0]  # the same resume started twice: one writer
    (lost,) = [p for p in twice if p is not won]
    assert "is being written by process" in outputs[lost] or "its full length" in outputs[lost], outputs[lost][-2000:]
    assert "Traceback" not in "".join(outputs.values())

    rows = {r.folder: r for r in collect(exp)}
    assert len(rows) == 8, sorted(rows)
    for folder, row in rows.items():
        path = exp / folder
        done = epochs(path)
        assert done == list(range(1, len(done) + 1)), (folder, done)  # every epoch once, in order
        last = load_checkpoint(path / "checkpoints" / "SignTransformer_last.pt")["epoch"]
        if folder == "runs/killed":
            assert row.status == "interrupted" and "is gone" in row.problem  # its process died: not "running"
            assert last - len(done) in (0, 1)  # killed between a checkpoint and its metrics row at worst
            continue
        expected = 3 if folder.startswith("runs/earlier_") else 2
        assert (row.status, row.epochs, len(done), last) == ("finished", expected, expected, expected), folder
        assert json.loads((path / "eval" / "test" / "metrics.json").read_text())["clips"] == 12
    listed = run_command("runs", str(exp))
    assert "8 run(s)" in listed.stdout and listed.stdout.count("finished") == 7 and "interrupted" in listed.stdout

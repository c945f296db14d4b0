"""One writer per run folder: a second process is refused and told who holds the folder; a lock left by
a process that died (SIGKILL, a machine going down) never blocks the next writer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

from signlang.runs.lock import RunInUse, RunLock

HOLD = """
import sys, time
from pathlib import Path
from signlang.runs.lock import RunLock
lock = RunLock(sys.argv[1]).acquire()
Path(sys.argv[2]).touch()
time.sleep(120)
"""


def holder(folder, tmp_path) -> subprocess.Popen:
    """Another process that takes the folder's lock and keeps it."""
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), str(ready)], cwd=REPO)
    deadline = time.time() + 60
    while not ready.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert ready.exists(), "the holder never took the lock"
    return proc


def test_a_second_process_is_refused_and_told_who_holds_the_folder(tmp_path):
    folder = tmp_path / "run"
    proc = holder(folder, tmp_path)
    try:
        with pytest.raises(RunInUse) as refused:
            RunLock(folder).acquire()
        message = str(refused.value)
        assert str(folder) in message and f"process {proc.pid}" in message and "one writer at a time" in message
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lock = RunLock(folder).acquire()  # the holder ended: the next writer gets in
    assert lock.held and lock.holder()["pid"] == os.getpid()
    lock.release()


def test_a_lock_left_by_a_killed_process_or_a_machine_that_went_down_never_blocks(tmp_path):
    folder = tmp_path / "run"
    proc = holder(folder, tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert json.loads((folder / ".lock").read_text())["pid"] == proc.pid  # its note is still there ...
    RunLock(folder).acquire().release()  # ... but nobody holds the lock
    (folder / ".lock").write_text(json.dumps({"pid": 1, "host": "a-machine-that-lost-power"}))  # after a reboot
    lock = RunLock(folder).acquire()
    assert lock.holder()["pid"] == os.getpid()
    lock.release()


def test_one_process_may_take_its_own_lock_again(tmp_path):
    """The Hydra callback takes the lock before Hydra writes; the run folder takes it again later."""
    first = RunLock(tmp_path / "run").acquire()
    second = RunLock(tmp_path / "run").acquire()
    assert first.held and second.mine()
    first.release()


def test_readers_never_wait_for_the_writer(tmp_path, trained_run):
    """signlang runs and signlang evaluate read a folder that another process is writing."""
    import shutil

    from conftest import run_command

    folder = tmp_path / "experiments" / "runs" / "run"
    shutil.copytree(trained_run["run"], folder)
    proc = holder(folder, tmp_path)
    try:
        listed = run_command("runs", str(tmp_path / "experiments"))
        assert listed.returncode == 0 and "run" in listed.stdout
        evaluated = run_command("evaluate", str(folder))
        assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
        assert (folder / "eval" / "test_2" / "metrics.json").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=30)

"""``signlang app`` stops its Streamlit server with it: on SIGTERM (a service manager, ``kill``, a test
harness) the signal is passed on, and when the launcher is killed outright the server is stopped too."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO

pytest.importorskip("streamlit")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status == 200
    except OSError:
        return False


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has ended
    except OSError:
        return False


def launch(tmp_path) -> tuple[subprocess.Popen, int, list[int]]:
    port = free_port()
    command = [sys.executable, "-m", "signlang", "app", str(tmp_path), "--port", str(port)]
    launcher = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while not answers(port):
        assert launcher.poll() is None and time.time() < deadline, "the app did not start"
        time.sleep(0.2)
    servers = children(launcher.pid)
    assert servers, "no server process under the launcher"
    return launcher, port, servers


def gone(pids: list[int], port: int, timeout: float = 30) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not any(alive(p) for p in pids) and not answers(port):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads child processes from /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_stopping_the_launcher_stops_the_server(tmp_path, sig):
    launcher, port, servers = launch(tmp_path)
    try:
        launcher.send_signal(sig)
        code = launcher.wait(timeout=30)
        assert gone(servers, port), "the Streamlit server outlived its launcher"
        if sig == signal.SIGTERM:
            assert code == 128 + signal.SIGTERM  # the launcher's own status says what stopped it
    finally:
        for pid in servers:
            if alive(pid):
                subprocess.run(["kill", "-9", str(pid)])

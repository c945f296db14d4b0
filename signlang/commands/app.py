"""``signlang app [EXPERIMENTS_DIR] [--port 8501] [--host 127.0.0.1]``: start the local web app (``signlang/app``).

Streamlit serves it (chosen over Gradio for its dashboard layout — tables, charts, a page per task
— and its in-process test harness, ``streamlit.testing``); local by default, no usage statistics
sent. Install with ``pip install -e ".[app]"``.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import signal
import subprocess
import sys
from pathlib import Path

from signlang.core.errors import ConfigError

log = logging.getLogger(__name__)
MAIN = Path(__file__).resolve().parents[1] / "app" / "main.py"


def command(root: str, port: int, host: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(MAIN),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--",
        "--root",
        str(Path(root).resolve()),
    ]


def run(args: argparse.Namespace) -> int:
    try:
        import streamlit  # noqa: F401
    except ImportError:
        raise ConfigError('signlang app needs Streamlit: pip install -e ".[app]"') from None
    log.info(
        "signlang app on http://%s:%d (experiments: %s); Ctrl-C stops it",
        args.host,
        args.port,
        Path(args.root).resolve(),
    )
    return serve(command(args.root, args.port, args.host))


def serve(argv: list[str]) -> int:
    """Run the Streamlit server as a child that ends with this process: SIGTERM and SIGINT are passed on
    (and the exit status says which came), and on Linux the child is told to stop if this process dies
    without a word (SIGKILL): a service manager, ``kill`` or a test harness leaves no server behind."""
    child = subprocess.Popen(argv, preexec_fn=_stop_with_parent if sys.platform.startswith("linux") else None)
    received: list[int] = []

    def pass_on(signum: int, frame) -> None:
        received.append(signum)
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, pass_on) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            try:
                code = child.wait()
                break
            except KeyboardInterrupt:  # a second Ctrl-C while the server shuts down
                child.send_signal(signal.SIGINT)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.kill()
    return 128 + received[0] if received else code


def _stop_with_parent() -> None:
    """In the child, before Streamlit starts: SIGTERM when the parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("root", nargs="?", default="experiments", help="the experiments folder (default: experiments)")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--host", default="127.0.0.1", help="127.0.0.1: this machine only (0.0.0.0 serves the network)")
    return parser

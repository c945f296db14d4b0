"""``signlang app [EXPERIMENTS_DIR] [--port 8501] [--host 127.0.0.1]``: start the local web app (``signlang/app``).

Streamlit serves it (chosen over Gradio for its dashboard layout — tables, charts, a page per task
— and its in-process test harness, ``streamlit.testing``); local by default, no usage statistics
sent. Install with ``pip install -e ".[app]"``.
"""

from __future__ import annotations

import argparse
import logging
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
    try:
        return subprocess.run(command(args.root, args.port, args.host)).returncode
    except KeyboardInterrupt:
        return 130


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("root", nargs="?", default="experiments", help="the experiments folder (default: experiments)")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--host", default="127.0.0.1", help="127.0.0.1: this machine only (0.0.0.0 serves the network)")
    return parser

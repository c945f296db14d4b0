"""Where the source checkout is: ``run.py`` and ``conf/`` (signlang is installed with ``pip install -e .``)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = REPO_ROOT / "conf"

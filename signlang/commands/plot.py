"""``signlang plot RUN_DIR... [--out curves.png]``: the learning curves of one or more runs in one PNG
(runs without a completed epoch are skipped and named)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from signlang.figures.plots import plot_runs

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--out", default="curves.png", help="PNG to write (default: curves.png)")
    return parser


def run(args: argparse.Namespace) -> int:
    """``signlang plot``: overlay the runs' curves; 1 when none has a completed epoch."""
    path, skipped = plot_runs([Path(p) for p in args.run_dirs], Path(args.out))
    for message in skipped:
        log.warning("skipped %s", message)
    if path is None:
        log.error("nothing to plot: none of the runs has a completed epoch")
        return 1
    log.info("wrote %s", path)
    return 0

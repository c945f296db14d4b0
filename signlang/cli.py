"""The ``signlang`` command.

    signlang train [overrides]            same as python run.py [overrides]
    signlang validate DIR [--labels CSV]  check clips and labels before training
    signlang evaluate RUN_DIR             rebuild a run's evaluation report
    signlang predict RUN_DIR FILE.npz...  gloss and category of clips
    signlang runs [ROOT]                  table of runs and sweep jobs
    signlang plot RUN_DIR...              learning curves to PNG
    signlang resume-sweep SWEEP_DIR       re-launch the jobs of a sweep that did not finish
    signlang extract SRC --out DIR        videos to .npz keypoints / features + labels CSV
    signlang split DIR LABELS --out OUT   train/val/test in the seed layout
    signlang baseline [overrides]         1-nearest-neighbour baseline on the data of a config
    signlang render CLIP.npz --out a.gif  skeleton animation (.gif or .mp4), optionally beside the video
    signlang app [EXPERIMENTS_DIR]        local web app: runs, clips and predictions

Each command imports only what it needs, so ``signlang --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import runpy
import sys

from signlang import __version__
from signlang.config import REPO_ROOT

log = logging.getLogger("signlang")


# command: (module, function adding its arguments, function running it, help)
COMMANDS = {
    "validate": ("signlang.validate", "add_arguments", "run", "check a folder of .npz clips and its labels CSV"),
    "evaluate": (
        "signlang.evaluation.evaluate",
        "add_arguments",
        "run_evaluate",
        "evaluate a run's checkpoint and write eval/<split>/",
    ),
    "predict": (
        "signlang.evaluation.predict",
        "add_arguments",
        "run_predict",
        "predict gloss and category of .npz clips",
    ),
    "runs": ("signlang.runs", "add_arguments", "run_runs", "table of runs and sweep jobs"),
    "plot": ("signlang.plots", "add_arguments", "run_plot", "learning curves of one or more runs to PNG"),
    "resume-sweep": (
        "signlang.sweeps",
        "add_arguments",
        "run_resume_sweep",
        "re-launch the jobs of a sweep that did not finish",
    ),
    "extract": (
        "signlang.extract.pipeline",
        "add_arguments",
        "run_extract",
        "videos to .npz keypoints/features and a labels CSV",
    ),
    "split": (
        "signlang.data.split",
        "add_arguments",
        "run_split",
        "train/val/test in the seed layout, stratified and grouped",
    ),
    "baseline": (
        "signlang.evaluation.baseline",
        "add_arguments",
        "run_baseline",
        "1-nearest-neighbour baseline on a config's data",
    ),
    "render": (
        "signlang.render",
        "add_arguments",
        "run_render",
        "skeleton animation of a keypoint clip to .mp4 or .gif",
    ),
    "app": ("signlang.app.launch", "add_arguments", "run_app", "local web app: runs, clips, predictions"),
}


def _train(overrides: list[str]) -> int:
    script = REPO_ROOT / "run.py"
    if not (script.is_file() and (REPO_ROOT / "conf").is_dir()):
        log.error("signlang train needs the source checkout (run.py and conf/); install with pip install -e . from it")
        return 2
    sys.argv = [str(script), *overrides]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signlang", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"signlang {__version__}")
    parser.add_argument(
        "command", nargs="?", choices=["train", *COMMANDS], metavar="COMMAND", help="see the list above"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    from signlang.console import ConsoleHandler
    from signlang.errors import user_message

    argv = sys.argv[1:] if argv is None else argv
    handler = ConsoleHandler(console=Console(stderr=True), show_path=False, show_time=False)
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[handler], force=True)
    if not argv or argv[0] not in ("train", *COMMANDS):
        top_parser().parse_args(argv or ["--help"])
        return 2
    command, rest = argv[0], argv[1:]
    if command == "train":
        return _train(rest)
    module_name, add_arguments, run, help_text = COMMANDS[command]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"signlang {command}", description=help_text)
    getattr(module, add_arguments)(parser)
    args = parser.parse_args(rest)
    try:
        return getattr(module, run)(args)
    except Exception as exc:  # user mistakes end in one line; bugs keep their traceback
        message = user_message(exc)
        if message is None or os.environ.get("SIGNLANG_DEBUG") == "1":
            raise
        log.error("%s", message)
        return 2


if __name__ == "__main__":
    sys.exit(main())

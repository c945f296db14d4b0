"""The ``signlang`` command.

    signlang train [overrides]            same as python run.py [overrides]
    signlang validate DIR [--labels CSV]  check clips and labels before training
    signlang evaluate RUN_DIR             rebuild a run's evaluation report
    signlang predict RUN_DIR FILE.npz...  gloss and category of clips
    signlang runs [ROOT]                  table of runs and sweep jobs
    signlang resume-sweep SWEEP_DIR       re-launch the jobs of a sweep that did not finish
    signlang extract SRC --out DIR        videos to .npz keypoints / features + labels CSV
    signlang split DIR LABELS --out OUT   train/val/test in the seed layout
    signlang plot RUN_DIR...              learning curves to PNG
"""

from __future__ import annotations

import argparse
import logging
import os
import runpy
import sys
from pathlib import Path

from rich.logging import RichHandler

from signlang import __version__, runs, sweeps, validate
from signlang.data import split
from signlang.errors import user_message
from signlang.evaluation import evaluate, predict
from signlang.extract import pipeline

log = logging.getLogger("signlang")

REPO_ROOT = Path(__file__).resolve().parents[1]


def _train(overrides: list[str]) -> int:
    script = REPO_ROOT / "run.py"
    if not (script.is_file() and (REPO_ROOT / "conf").is_dir()):
        log.error("signlang train needs the source checkout (run.py and conf/); install with pip install -e . from it")
        return 2
    sys.argv = [str(script), *overrides]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from signlang.plots import plot_runs

    path, skipped = plot_runs([Path(p) for p in args.run_dirs], Path(args.out))
    for message in skipped:
        log.warning("skipped %s", message)
    if path is None:
        log.error("nothing to plot: none of the runs has a completed epoch")
        return 1
    log.info("wrote %s", path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signlang", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"signlang {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = sub.add_parser("train", help="train a model (same as python run.py; Hydra overrides follow)", add_help=False)
    train.add_argument("overrides", nargs=argparse.REMAINDER, help="Hydra overrides, e.g. model=iv3_gru optim.lr=1e-4")
    validate.add_arguments(sub.add_parser("validate", help="check a folder of .npz clips and its labels CSV"))
    evaluate.add_arguments(sub.add_parser("evaluate", help="evaluate a run's checkpoint and write eval/<split>/"))
    predict.add_arguments(sub.add_parser("predict", help="predict gloss and category of .npz clips"))
    runs.add_arguments(sub.add_parser("runs", help="table of runs and sweep jobs"))
    sweeps.add_arguments(sub.add_parser("resume-sweep", help="re-launch the jobs of a sweep that did not finish"))
    pipeline.add_arguments(sub.add_parser("extract", help="videos to .npz keypoints/features and a labels CSV"))
    split.add_arguments(sub.add_parser("split", help="train/val/test in the seed layout, stratified and grouped"))
    plot = sub.add_parser("plot", help="learning curves of one or more runs to PNG")
    plot.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    plot.add_argument("--out", default="curves.png", help="PNG to write (default: curves.png)")
    return parser


COMMANDS = {
    "validate": validate.run,
    "evaluate": evaluate.run_evaluate,
    "predict": predict.run_predict,
    "runs": runs.run_runs,
    "resume-sweep": sweeps.run_resume_sweep,
    "extract": pipeline.run_extract,
    "split": split.run_split,
    "plot": _plot,
}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False, show_time=False)])
    args = build_parser().parse_args(argv)
    if args.command == "train":
        return _train(args.overrides)
    if args.command is None:
        build_parser().print_help()
        return 0
    try:
        return COMMANDS[args.command](args)
    except Exception as exc:  # user mistakes end in one line; bugs keep their traceback
        message = user_message(exc)
        if message is None or os.environ.get("SIGNLANG_DEBUG") == "1":
            raise
        log.error("%s", message)
        return 2


if __name__ == "__main__":
    sys.exit(main())

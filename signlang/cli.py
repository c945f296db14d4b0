"""The ``signlang`` command. ``signlang train [overrides]`` is ``python run.py [overrides]``."""

from __future__ import annotations

import argparse
import logging
import runpy
import sys
from pathlib import Path

from signlang import __version__, validate

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signlang", description=__doc__)
    parser.add_argument("--version", action="version", version=f"signlang {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = sub.add_parser("train", help="train a model (same as python run.py; Hydra overrides follow)", add_help=False)
    train.add_argument("overrides", nargs=argparse.REMAINDER, help="Hydra overrides, e.g. model=iv3_gru optim.lr=1e-4")
    validate.add_arguments(sub.add_parser("validate", help="check a folder of .npz clips and its labels CSV"))
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "train":
        return _train(args.overrides)
    if args.command == "validate":
        return validate.run(args)
    build_parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``signlang`` command: one module per subcommand in ``signlang/commands/``.

Each command imports only what it needs, so ``signlang --help`` answers at once; the list below is
the one place the commands are named (the help is built from it).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import runpy
import sys

from rich.console import Console

from signlang import __version__
from signlang.core.console import ConsoleHandler
from signlang.core.errors import user_message
from signlang.core.paths import REPO_ROOT

log = logging.getLogger("signlang")

# command: (its module in signlang.commands, usage, what it does)
COMMANDS = {
    "train": (None, "[overrides]", "same as python run.py [overrides]"),
    "validate": ("validate", "DIR [--labels CSV]", "check a folder of .npz clips and its labels CSV"),
    "evaluate": (
        "evaluate",
        "RUN_DIR...",
        "evaluate a run's checkpoint (--unknown, --streams; several runs: averaged) into eval/<split>/",
    ),
    "predict": ("predict", "RUN_DIR FILE...", "gloss and category of .npz clips or videos (--stream: every sign)"),
    "calibrate": ("calibrate", "RUN_DIR", "choose when a run's checkpoint answers 'unknown'"),
    "runs": ("runs", "[ROOT]", "table of runs and sweep jobs"),
    "plot": ("plot", "RUN_DIR...", "learning curves of one or more runs to PNG"),
    "resume-sweep": ("resume_sweep", "SWEEP_DIR", "re-launch the jobs of a sweep that did not finish"),
    "extract": ("extract", "SRC --out DIR", "videos to .npz keypoints/features and a labels CSV"),
    "import": ("import_dataset", "FORMAT ... --out OUT", "WLASL or sign_signer_repetition videos into the seed layout"),
    "split": ("split", "DIR LABELS --out OUT", "train/val/test in the seed layout, stratified and grouped"),
    "baseline": ("baseline", "[overrides]", "1-nearest-neighbour baseline on a config's data"),
    "render": ("render", "CLIP.npz --out a.gif", "skeleton animation (.gif or .mp4), optionally beside the video"),
    "app": ("app", "[EXPERIMENTS_DIR]", "local web app: runs, clips and predictions"),
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
    width = max(len(f"{name} {usage}") for name, (_, usage, _) in COMMANDS.items())
    lines = "\n".join(
        f"  signlang {f'{name} {usage}':<{width}}  {help_}" for name, (_, usage, help_) in COMMANDS.items()
    )
    parser = argparse.ArgumentParser(
        prog="signlang",
        description=f"Sign-language recognition experiments.\n\n{lines}\n\nsignlang COMMAND --help says more.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"signlang {__version__}")
    parser.add_argument("command", nargs="?", choices=list(COMMANDS), metavar="COMMAND", help="see the list above")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    handler = ConsoleHandler(console=Console(stderr=True), show_path=False, show_time=False)
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[handler], force=True)
    if not argv or argv[0] not in COMMANDS:
        top_parser().parse_args(argv or ["--help"])
        return 2
    command, rest = argv[0], argv[1:]
    if command == "train":
        return _train(rest)
    module_name, _, help_text = COMMANDS[command]
    module = importlib.import_module(f"signlang.commands.{module_name}")
    parser = argparse.ArgumentParser(
        prog=f"signlang {command}", description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        return module.run(args)
    except Exception as exc:  # user mistakes end in one line; bugs keep their traceback
        message = user_message(exc)
        if message is None or os.environ.get("SIGNLANG_DEBUG") == "1":
            raise
        log.error("%s", message)
        return 2


if __name__ == "__main__":
    sys.exit(main())

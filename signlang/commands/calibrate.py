"""``signlang calibrate RUN_DIR [--score energy] [--false-reject 0.01 | --false-accept 0.05 --unknown DIR...]
[--data-dir DIR --labels CSV]``: choose again when the run's checkpoint answers "unknown" (a sign not
in its vocabulary), on its val split (or other clips of its glosses that it did not train on: a run
with ``data.train_on_val`` has seen its val) and, for a false-accept rate, on folders of clips of
other signs. Written into the checkpoint; the threshold it replaces is kept there (``rejection_history``)."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from signlang.core.errors import ConfigError
from signlang.evaluation.evaluate import load_run
from signlang.evaluation.open_set import calibrate_run
from signlang.models.rejection import DEFAULT_FALSE_REJECT, DEFAULT_SCORE, SCORES
from signlang.training.runtime import resolve_device


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    if args.false_accept is not None and not args.unknown:
        raise ConfigError("--false-accept needs --unknown DIR: clips of signs outside the run's vocabulary")
    if bool(args.data_dir) != bool(args.labels):
        raise ConfigError("give both --data-dir and --labels: clips of the run's glosses that it did not train on")
    device = resolve_device(args.device)
    run = load_run(args.run_dir, args.checkpoint, device)
    rejector = calibrate_run(
        run,
        device,
        score=args.score,
        false_reject=args.false_reject,
        false_accept=args.false_accept,
        unknown=args.unknown,
        k=args.k,
        known=(args.data_dir, args.labels) if args.data_dir else None,
    )
    table = Table(title=f"{run.path.name}: rejection in {run.checkpoint_path.name}", show_header=False)
    table.add_column()
    table.add_column(overflow="fold")  # a folder's path in full
    table.add_row("score", rejector.score)
    table.add_row("threshold", f"{rejector.threshold:.5f}")
    for key, value in rejector.calibration.items():
        # the known clips' rates are stored as val_* whatever known_set they were measured on
        label = "chosen on" if key == "known_set" else key.removeprefix("val_")
        table.add_row(label, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run_dir", help="a run folder")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--score", choices=SCORES, default=DEFAULT_SCORE, help=f"default: {DEFAULT_SCORE}")
    parser.add_argument(
        "--false-reject", type=float, default=DEFAULT_FALSE_REJECT, help="share of val clips it may reject"
    )
    parser.add_argument("--data-dir", help="known clips to choose on instead of val (ones it did not train on) ...")
    parser.add_argument("--labels", help="... with this labels CSV")
    parser.add_argument("--false-accept", type=float, help="share of --unknown clips it may accept (instead)")
    parser.add_argument("--unknown", nargs="+", metavar="DIR", help="folders of .npz clips of signs it does not know")
    parser.add_argument("--k", type=int, default=1, help="knn: the k-th nearest training clip")
    parser.add_argument("--device", default="auto")
    return parser

"""``signlang evaluate RUN_DIR [RUN_DIR...] [--split test|val|train] [--checkpoint best|last]
[--data-dir DIR --labels CSV] [--unknown DIR...] [--streams]``: score a run's checkpoint again, from
the run folder alone, into a new ``eval/<split>/`` (an earlier report is never overwritten).
``--unknown``: how well its rejection tells the split's clips from clips of signs it does not know
(``eval/<split>_open/``); ``--streams``: the split's clips put end to end in random streams, each
sign found and read (``eval/<split>_streams/``). Several run folders (separately trained seeds or
settings, on the same split): their logits averaged and scored as one model, into the first's
``eval/<split>_average/``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from signlang.commands.predict import add_segmenter_arguments, segmenter_settings
from signlang.core.errors import ConfigError
from signlang.evaluation.evaluate import LoadedRun, evaluate_average, evaluate_checkpoint, load_run
from signlang.evaluation.open_set import evaluate_open_set, load_unknown
from signlang.evaluation.report import TOP_K
from signlang.evaluation.stream import evaluate_streams
from signlang.training.runtime import resolve_device


def scored_clips(args: argparse.Namespace, run: LoadedRun):
    """The run's data, the clips ``args`` ask for (a split, or --data-dir/--labels), their normalised
    batches and the report's name."""
    data = run.data()
    if args.data_dir or args.labels:
        if not (args.data_dir and args.labels):
            raise ConfigError("give both --data-dir and --labels to evaluate on other data")
        if not hasattr(data, "load"):
            raise ConfigError(
                "this run trained on synthetic data; --data-dir needs a run trained with data=keypoints/features"
            )
        clips = data.load(args.data_dir, args.labels)
        batches = data.eval_loader(clips)
        name = Path(args.data_dir).name
    else:
        split = args.split or ("test" if "test" in data.available() else "val")
        clips = data.split(split)
        if clips is None:
            raise ConfigError(f"{run.path} has no {split} split; use --split val or --data-dir/--labels")
        batches = data.eval_loader(split)
        name = split
    if args.checkpoint != "best":
        name = f"{name}_{args.checkpoint}"
    return data, clips, batches, name


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    device = resolve_device(args.device)
    if len(args.run_dir) > 1:
        return average(args, device, console)
    run = load_run(args.run_dir[0], args.checkpoint, device)
    data, clips, batches, name = scored_clips(args, run)
    if args.unknown or args.streams:
        return open_set_and_streams(args, run, data, clips, name, device, console)
    result = evaluate_checkpoint(
        run.path,
        run.model,
        clips,
        batches,
        checkpoint=run.checkpoint_path,
        name=name,
        gloss_names=run.gloss_names,
        cat_names=run.cat_names,
        device=device,
    )
    table = Table(title=f"{run.path.name}: {name}", show_header=False)
    for key in ("clips", "epoch", "gloss_acc", f"gloss_top{TOP_K}", "gloss_macro_f1", "cat_acc", "report"):
        value = result[key]
        if value is None:  # no categories
            continue
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    return 0


def average(args: argparse.Namespace, device, console: Console) -> int:
    """Several run folders: each scores the clips, and their averaged logits are scored as one model."""
    if args.unknown or args.streams:
        raise ConfigError("--unknown and --streams score one run; give one run folder")
    if len(set(map(str, args.run_dir))) < len(args.run_dir):
        raise ConfigError("a run folder is given twice; average different runs")
    runs = [load_run(path, args.checkpoint, device) for path in args.run_dir]
    scored = [scored_clips(args, run) for run in runs]
    name = scored[0][3]
    result, alone = evaluate_average(
        runs, [(clips, batches) for _, clips, batches, _ in scored], name=name, device=device
    )
    table = Table("run", "gloss top-1", title=f"{len(runs)} runs averaged: {name}")
    for run, acc in zip(runs, alone):
        table.add_row(str(run.path), f"{acc:.4f}")
    table.add_row("[bold]averaged[/]", f"[bold]{result['gloss_acc']:.4f}[/]")
    console.print(table)
    extra = [f"top-{TOP_K} {result[f'gloss_top{TOP_K}']:.4f}", f"macro-F1 {result['gloss_macro_f1']:.4f}"]
    if result["cat_acc"] is not None:
        extra.append(f"category top-1 {result['cat_acc']:.4f}")
    console.print(f"averaged: {', '.join(extra)}; report: {runs[0].path / result['report']}")
    return 0


def open_set_and_streams(args, run, data, clips, name, device, console: Console) -> int:
    """``--unknown`` and ``--streams``: the two reports that go beyond clip accuracy."""
    if args.unknown:
        report = evaluate_open_set(run, clips, name, load_unknown(run, args.unknown, data), device)
        table = Table(
            "unknown clips",
            "clips",
            "AUROC",
            "false accept",
            "false reject",
            "known acc",
            "with rejection",
            title=f"{run.path.name}: {name} vs signs it does not know ({report['score']})",
        )
        for label, r in {**report["by_unknown_set"], "all": report["all_unknown"]}.items():
            table.add_row(
                label,
                str(r["unknown_clips"]),
                f"{r['auroc']:.3f}",
                f"{r['false_accept']:.3f}",
                f"{r['false_reject']:.3f}",
                f"{r['known_accuracy']:.3f}",
                f"{r['known_accuracy_with_rejection']:.3f}",
            )
        console.print(table)
        console.print(f"report: {report['report']}")
    if args.streams:
        m = evaluate_streams(
            run,
            clips,
            name,
            device,
            seed=args.stream_seed,
            min_signs=args.signs[0],
            max_signs=args.signs[1],
            rounds=args.stream_rounds,
            live_fps=args.live_fps,
            **segmenter_settings(args),
        )
        table = Table(title=f"{run.path.name}: streams of {name} clips", show_header=False)
        for key in (
            "streams",
            "true_signs",
            "found_signs",
            "precision",
            "recall",
            "gloss_accuracy_matched",
            "gloss_accuracy_alone_same_clips",
            "signs_read_correctly",
            "report",
        ):
            value = m[key]
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
        console.print(table)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "run_dir",
        nargs="+",
        type=Path,
        help="a run folder (experiments/runs/<run> or a sweep job); several: their logits averaged, "
        "scored as one model into the first's eval/<split>_average/",
    )
    parser.add_argument("--split", choices=["test", "val", "train"], help="default: test if the run has one, else val")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--data-dir", help="evaluate on another folder of .npz clips ...")
    parser.add_argument("--labels", help="... with this labels CSV")
    parser.add_argument(
        "--unknown", nargs="+", metavar="DIR", help="folders of .npz clips of signs the run does not know"
    )
    parser.add_argument("--streams", action="store_true", help="find and read signs in streams made of the clips")
    parser.add_argument("--signs", nargs=2, type=int, default=[3, 10], metavar=("MIN", "MAX"), help="signs per stream")
    parser.add_argument("--stream-rounds", type=int, default=1, help="each clip appears this many times in all")
    parser.add_argument("--stream-seed", type=int, default=0)
    parser.add_argument("--live-fps", type=float, metavar="FPS", help="--streams: read them as the camera path does")
    add_segmenter_arguments(parser, "--streams: ")
    parser.add_argument("--device", default="auto")
    return parser

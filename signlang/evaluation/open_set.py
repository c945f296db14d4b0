""" "Not a sign I know", after training: choose a run's rejection threshold again (``signlang
calibrate``), and measure how well it tells known clips from clips of other signs (``signlang
evaluate RUN --unknown DIR``).

Training's ``callbacks.rejection`` chooses the threshold for a false-reject rate on val, which needs
nothing but the run's own data. With clips of signs outside the vocabulary (glosses left out of
training, another sign language), ``calibrate`` can choose it for a false-accept rate instead.
Either way the clips it is chosen on must not be the ones it is then measured on.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from signlang.core.errors import ConfigError
from signlang.core.files import atomic_write
from signlang.data.clips import ClipSet
from signlang.evaluation.evaluate import LoadedRun, fresh_dir
from signlang.evaluation.metrics import auroc, open_set_report
from signlang.evaluation.predict import classify
from signlang.models.rejection import (
    DEFAULT_FALSE_REJECT,
    DEFAULT_SCORE,
    SCORES,
    Outputs,
    Rejector,
    calibrate,
    compute_scores,
    reference_vectors,
)
from signlang.runs.folder import RunFolder
from signlang.runs.lock import RunLock
from signlang.runs.record import EVAL_DIR

log = logging.getLogger(__name__)


def load_unknown(run: LoadedRun, folders: list[str], data=None) -> dict[str, ClipSet]:
    """Clips of signs outside the run's vocabulary, one set per folder (every ``.npz`` in it, read the
    way the run reads its clips); labels do not matter."""
    data = data or run.data()
    if not hasattr(data, "load"):
        raise ConfigError("this run trained on synthetic data; --unknown needs a run trained on .npz clips")
    sets = {}
    for folder in folders:
        path = Path(folder)
        name = f"{path.parent.name}/{path.name}"  # wlasl100/keypoints_val says more than keypoints_val
        sets[name if name not in sets else f"{name}_{len(sets)}"] = data.load(folder, None)
    return sets


def calibrate_run(
    run: LoadedRun,
    device,
    *,
    score: str = DEFAULT_SCORE,
    false_reject: float | None = DEFAULT_FALSE_REJECT,
    false_accept: float | None = None,
    unknown: list[str] | None = None,
    k: int = 1,
    known: tuple[str, str] | None = None,
) -> Rejector:
    """Choose the rejection threshold of ``run``'s checkpoint on its val split, or on ``known``
    (a folder of clips of its glosses that it did not train on, and their labels CSV), and on the
    ``unknown`` folders; write it into the checkpoint, where the one it replaces stays in
    ``rejection_history``. Refused while the run is training (one writer per run folder)."""
    data = run.data()
    if known is not None and not hasattr(data, "load"):
        raise ConfigError("this run trained on synthetic data; --data-dir needs a run trained on .npz clips")
    if known is None and data.train_on_val:
        log.warning(
            "%s trained on its val split (data.train_on_val): a threshold chosen there rejects more known "
            "signs than it says; give --data-dir DIR --labels CSV, clips of its glosses it did not train on",
            run.path,
        )
    unknown_outputs = None
    if unknown:
        sets = load_unknown(run, unknown, data)
        unknown_outputs = concat([classify(run, clips, device) for clips in sets.values()])
    trained_on = data.split("train")
    if data.train_on_val:
        trained_on = ClipSet.concat([trained_on, data.split("val")])  # a distance score's reference: every clip it fit
    rejector = calibrate(
        score,
        classify(run, trained_on, device),
        classify(run, data.load(*known) if known else data.split("val"), device),
        len(run.gloss_names),
        false_reject=None if false_accept is not None else false_reject,
        false_accept=false_accept,
        unknown=unknown_outputs,
        k=k,
        known_set=str(known[0]) if known else "val",
    )
    if unknown:
        rejector.calibration["unknown_folders"] = [str(u) for u in unknown]
    lock = RunLock(run.path).acquire()
    try:
        state = RunFolder(run.path).update_checkpoint(run.checkpoint_path, rejection=rejector.state_dict())
    finally:
        lock.release()
    run.state = state
    return rejector


def concat(outputs: list[Outputs]) -> Outputs:
    return Outputs(*(np.concatenate([getattr(o, f) for o in outputs]) for f in Outputs.__dataclass_fields__))


def evaluate_open_set(run: LoadedRun, known: ClipSet, name: str, unknown: dict[str, ClipSet], device) -> dict[str, Any]:
    """Score ``known`` clips (a split of the run's glosses) and each set of ``unknown`` clips with the
    run's rejection score and threshold, and write ``eval/<name>_open/`` (``metrics.json``,
    ``scores.csv``). Every other score's AUROC is reported beside it, for comparison."""
    rejector = run.rejector
    if rejector is None:
        raise ConfigError(
            f"{run.checkpoint_path} has no rejection threshold; train with callbacks.rejection, "
            f"or run signlang calibrate {run.path}"
        )
    known_out = classify(run, known, device)
    unknown_out = {k: classify(run, clips, device) for k, clips in unknown.items()}
    correct = known_out.predicted == known.gloss
    known_scores = rejector.scores(known_out)
    every = concat(list(unknown_out.values()))
    report: dict[str, Any] = {
        "split": name,
        "checkpoint": run.checkpoint_path.stem.rsplit("_", 1)[-1],
        "epoch": run.state.get("epoch"),
        "score": rejector.score,
        "calibration": rejector.calibration,
        "all_unknown": open_set_report(known_scores, correct, rejector.scores(every), rejector.threshold),
        "by_unknown_set": {
            k: open_set_report(known_scores, correct, rejector.scores(o), rejector.threshold)
            for k, o in unknown_out.items()
        },
    }
    train = classify(run, run.data().split("train"), device)
    report["auroc_by_score"] = {}
    for score in SCORES:
        ref = reference_vectors(score, train, len(run.gloss_names))
        report["auroc_by_score"][score] = {
            k: auroc(compute_scores(score, known_out, ref, rejector.k), compute_scores(score, o, ref, rejector.k))
            for k, o in {"all_unknown": every, **unknown_out}.items()
        }
    out_dir = fresh_dir(Path(run.path) / EVAL_DIR / f"{name}_open")
    out_dir.mkdir(parents=True)
    text = json.dumps(report, indent=2) + "\n"
    atomic_write(out_dir / "metrics.json", lambda f: f.write(text.encode()))
    with open(out_dir / "scores.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["set", "file", "score", "known", "predicted", "correct"])
        for i, file in enumerate(known.names):
            pred = run.gloss_names[known_out.predicted[i]]
            writer.writerow(
                [
                    name,
                    file,
                    f"{known_scores[i]:.5f}",
                    int(known_scores[i] >= rejector.threshold),
                    pred,
                    int(correct[i]),
                ]
            )
        for k, o in unknown_out.items():
            s = rejector.scores(o)
            for i, file in enumerate(unknown[k].names):
                pred = run.gloss_names[o.predicted[i]]
                writer.writerow([k, file, f"{s[i]:.5f}", int(s[i] >= rejector.threshold), pred, ""])
    report["report"] = str(out_dir.relative_to(run.path))
    a = report["all_unknown"]
    log.info(
        "%s vs %d unknown clips: AUROC %.3f; at the threshold %.1f%% of known clips rejected, %.1f%% of unknown "
        "accepted, known accuracy %.3f -> %.3f -> %s",
        name,
        a["unknown_clips"],
        a["auroc"],
        100 * a["false_reject"],
        100 * a["false_accept"],
        a["known_accuracy"],
        a["known_accuracy_with_rejection"],
        out_dir,
    )
    return report

"""Score a checkpoint on a split and write ``eval/<name>/`` into the run folder.

``metrics.json`` (both heads, top-1/top-5, macro-F1, per-class accuracy, split by ``occluded``),
``predictions.csv`` (one row per clip), and confusion matrices as CSV and PNG.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from signlang.core.files import atomic_write
from signlang.data.clips import ClipSet
from signlang.data.labels import has_categories
from signlang.evaluation.metrics import confusion, evaluation_report
from signlang.figures.plots import plot_confusion
from signlang.runs.record import PREDICTIONS_FILE

log = logging.getLogger(__name__)
TOP_K = 5


@torch.no_grad()
def predict_probs(model: nn.Module, batches, n: int, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities of both heads for the ``n`` clips of ``batches`` (normalised, never
    augmented: ``ClipData.eval_loader`` or ``eval_batches``), in the clips' own order."""
    model.eval()
    gloss, cat = None, None
    for batch in batches:
        batch = batch.to(device)
        g, c = model(batch.x, batch.pad_mask, batch.lengths)
        g, c = g.float().softmax(-1).cpu().numpy(), c.float().softmax(-1).cpu().numpy()
        if gloss is None:
            gloss = np.zeros((n, g.shape[1]), np.float32)
            cat = np.zeros((n, c.shape[1]), np.float32)
        gloss[batch.index.cpu().numpy()] = g
        cat[batch.index.cpu().numpy()] = c
    return gloss, cat


def _top(probs: np.ndarray, names: list[str], k: int) -> list[str]:
    order = np.argsort(-probs, axis=1)[:, :k]
    return [";".join(f"{names[j]}:{p[j]:.4f}" for j in row) for row, p in zip(order, probs)]


def write_report(
    out_dir: Path,
    clips: ClipSet,
    gloss_probs: np.ndarray,
    cat_probs: np.ndarray,
    gloss_names: list[str],
    cat_names: list[str],
    meta: dict[str, Any],
) -> dict[str, Any]:
    """Write metrics.json, predictions.csv and the confusion matrices; returns the metrics."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        **meta,
        **evaluation_report(
            gloss_probs, clips.gloss, cat_probs, clips.cat, clips.occluded, gloss_names, cat_names, TOP_K
        ),
    }
    text = json.dumps(report, indent=2) + "\n"
    atomic_write(out_dir / "metrics.json", lambda f: f.write(text.encode()))

    gloss_pred, cat_pred = gloss_probs.argmax(1), cat_probs.argmax(1)
    cats = has_categories(cat_names)  # without categories, their columns and matrix are left out
    columns = ["file", "true", "predicted", "confidence", "correct", f"top{TOP_K}"]
    columns += ["cat_true", "cat_predicted", "cat_confidence"] if cats else []
    columns += ["occluded"]
    cells = [
        clips.names,
        [gloss_names[i] for i in clips.gloss],
        [gloss_names[i] for i in gloss_pred],
        [f"{p:.4f}" for p in gloss_probs.max(1)],
        [int(a == b) for a, b in zip(gloss_pred, clips.gloss)],
        _top(gloss_probs, gloss_names, TOP_K),
    ]
    if cats:
        cells += [
            [cat_names[i] for i in clips.cat],
            [cat_names[i] for i in cat_pred],
            [f"{p:.4f}" for p in cat_probs.max(1)],
        ]
    cells.append(clips.occluded)
    with open(out_dir / PREDICTIONS_FILE, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(zip(*cells))

    heads = [("gloss", clips.gloss, gloss_pred, gloss_names)]
    heads += [("category", clips.cat, cat_pred, cat_names)] if cats else []
    for head, y, pred, names in heads:
        cm = confusion(y, pred, len(names))
        with open(out_dir / f"confusion_{head}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["true \\ predicted", *names])
            writer.writerows([name, *row] for name, row in zip(names, cm.tolist()))
        title = f"{head} confusion, {meta.get('split', '')} ({len(y)} clips, top-1 {np.mean(y == pred):.3f})"
        plot_confusion(cm, names, out_dir / f"confusion_{head}.png", title)
    return report


def headline(report: dict[str, Any], out_dir: Path, run_dir: Path) -> dict[str, Any]:
    """The few numbers summary.json and ``signlang runs`` show for an evaluation."""
    keys = ("split", "checkpoint", "epoch", "clips")
    return {
        **{k: report[k] for k in keys if k in report},
        "gloss_acc": report["gloss"]["top1"],
        f"gloss_top{TOP_K}": report["gloss"][f"top{TOP_K}"],
        "gloss_macro_f1": report["gloss"]["macro_f1"],
        "cat_acc": report["category"]["top1"] if "category" in report else None,
        "report": str(out_dir.relative_to(run_dir)) if out_dir.is_relative_to(run_dir) else str(out_dir),
    }

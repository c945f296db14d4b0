"""PNG figures: learning curves of runs and confusion matrices (matplotlib, no global pyplot state)."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from signlang.runs.record import CURVES_FILE, METRICS_FILE, PANELS

log = logging.getLogger(__name__)


def read_metrics(run_dir: Path) -> dict[str, np.ndarray]:
    """metrics.csv of a run as columns; empty when the run has no complete epoch yet."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("epoch", "").isdigit()]
    if not rows:
        return {}
    return {k: np.array([float(r[k]) if r.get(k) not in (None, "") else np.nan for r in rows]) for k in rows[0]}


def _save(fig: Figure, path: Path, dpi: int = 110) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    tmp.replace(path)
    return path


def plot_curves(runs: dict[str, dict[str, np.ndarray]], path: Path) -> Path:
    """Loss, gloss/category accuracy and lr per epoch; several runs overlay, train dashed, val solid."""
    fig = Figure(figsize=(11, 7.5))
    axes = fig.subplots(2, 2).ravel()
    colors = [f"C{i % 10}" for i in range(len(runs))]
    for ax, (title, columns) in zip(axes, PANELS.items()):
        for (label, metrics), color in zip(runs.items(), colors):
            for column in columns:
                if column in metrics:
                    style = "--" if column.startswith("train") else "-"
                    name = label if len(columns) == 1 else f"{label} {column.split('_')[0]}"
                    ax.plot(
                        metrics["epoch"], metrics[column], style, color=color, label=name, marker="o", markersize=2.5
                    )
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if title == "learning rate":
            ax.set_yscale("log")
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=min(4, max(1, len(labels))),
        fontsize=8,
        bbox_to_anchor=(0.5, -0.02 - 0.02 * (len(labels) // 4)),
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return _save(fig, path)


def plot_confusion(cm: np.ndarray, names: list[str], path: Path, title: str) -> Path:
    """Row-normalised confusion matrix; the figure grows with the classes so 105 labels stay readable."""
    n = len(names)
    size = max(5.0, 0.17 * n + 2.5)
    fontsize = max(4.5, min(10.0, 500 / max(n, 1)))
    support = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, support, out=np.zeros(cm.shape, dtype=float), where=support > 0)
    fig = Figure(figsize=(size, size * 0.92))
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks(range(n), names, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(n), names, fontsize=fontsize)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 30:
        for i, j in zip(*np.nonzero(cm)):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=fontsize * 0.8,
                color="white" if share[i, j] > 0.5 else "black",
            )
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02, label="share of the true class")
    return _save(fig, path, dpi=150 if n > 30 else 110)


def write_run_curves(run_dir: Path) -> Path | None:
    """``<run>/curves.png`` from the run's metrics.csv (None when it has no complete epoch)."""
    metrics = read_metrics(run_dir)
    return plot_curves({Path(run_dir).name: metrics}, Path(run_dir) / CURVES_FILE) if metrics else None


def plot_runs(run_dirs: list[Path], out: Path) -> tuple[Path | None, list[str]]:
    """Overlay the curves of ``run_dirs`` in ``out``; returns the file (None if nothing to plot) and
    what was skipped."""
    runs, skipped = {}, []
    for run_dir in run_dirs:
        metrics = read_metrics(run_dir)
        if metrics:
            runs[Path(run_dir).name] = metrics
        else:
            skipped.append(f"{run_dir}: no completed epoch in metrics.csv")
    return (plot_curves(runs, out) if runs else None), skipped

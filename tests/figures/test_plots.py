"""Learning curves and confusion matrices as PNG, for finished, failed, interrupted and empty runs."""

from __future__ import annotations

import shutil

import numpy as np
from conftest import run_command

from signlang.figures.plots import plot_confusion, plot_runs, read_metrics

PNG = b"\x89PNG"


def test_overlay_skips_runs_without_epochs(trained_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(trained_run["run"], other)
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "summary.json").write_text('{"status": "failed"}')
    interrupted = tmp_path / "interrupted"
    interrupted.mkdir()
    (interrupted / "metrics.csv").write_text("epoch,train_loss,val_loss,lr\n1,1.0,1.2,0.001\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    out, skipped = plot_runs([trained_run["run"], other, failed, interrupted, empty], tmp_path / "cmp.png")
    assert out.read_bytes()[:4] == PNG
    assert len(skipped) == 2 and any("failed" in s for s in skipped) and any("empty" in s for s in skipped)
    assert list(read_metrics(interrupted)["val_loss"]) == [1.2]


def test_cli(trained_run, tmp_path):
    result = run_command("plot", str(trained_run["run"]), "--out", str(tmp_path / "c.png"))
    assert result.returncode == 0 and (tmp_path / "c.png").read_bytes()[:4] == PNG
    (tmp_path / "empty").mkdir()
    result = run_command("plot", str(tmp_path / "empty"), "--out", str(tmp_path / "d.png"))
    assert (
        result.returncode == 1
        and "nothing to plot" in result.stdout + result.stderr
        and not (tmp_path / "d.png").exists()
    )


def test_confusion_png_for_105_classes(tmp_path):
    names = [f"GLOSS NAME {i}" for i in range(105)]
    cm = np.random.default_rng(0).integers(0, 3, size=(105, 105))
    path = plot_confusion(cm, names, tmp_path / "cm.png", "test")
    assert path.read_bytes()[:4] == PNG and path.stat().st_size > 50_000

"""The report training writes, and `signlang evaluate` rebuilding it from the run folder alone."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from conftest import run_command


def test_training_ends_with_a_report_on_test(trained_run):
    run = trained_run["run"]
    report = run / "eval" / "test"
    for name in (
        "metrics.json",
        "predictions.csv",
        "confusion_gloss.csv",
        "confusion_gloss.png",
        "confusion_category.csv",
        "confusion_category.png",
    ):
        assert (report / name).is_file(), name
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["checkpoint"] == "best" and metrics["clips"] == 12
    assert {"top1", "top5", "macro_f1", "per_class"} <= set(metrics["gloss"])
    assert set(metrics["gloss"]["per_class"]) == {f"SIGN {i}" for i in range(6)}
    assert metrics["by_occluded"]["0"]["clips"] + metrics["by_occluded"]["1"]["clips"] == 12
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert summary["final"]["split"] == "test" and summary["final"]["gloss_acc"] == metrics["gloss"]["top1"]
    assert summary["final"]["epoch"] == summary["best_epoch"]
    rows = list(csv.DictReader(open(report / "predictions.csv")))
    assert len(rows) == 12 and rows[0]["true"].startswith("SIGN ") and rows[0]["cat_true"] in ("HANDS", "FACE")
    assert len(rows[0]["top5"].split(";")) == 5 and 0 <= float(rows[0]["confidence"]) <= 1
    header = next(csv.reader(open(report / "confusion_gloss.csv")))
    assert header[1:] == [f"SIGN {i}" for i in range(6)]
    assert (run / "curves.png").is_file()


def test_evaluate_reproduces_the_numbers_training_wrote(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run["run"], run)
    result = run_command("evaluate", str(run), cwd=tmp_path)  # another cwd: paths come from the run
    assert result.returncode == 0, result.stdout + result.stderr
    again = json.loads((run / "eval" / "test_2" / "metrics.json").read_text())  # the original is kept
    original = json.loads((run / "eval" / "test" / "metrics.json").read_text())
    assert again == original

    result = run_command("evaluate", str(run), "--split", "val", "--checkpoint", "last")
    assert result.returncode == 0, result.stdout + result.stderr
    val_last = json.loads((run / "eval" / "val_last" / "metrics.json").read_text())
    assert val_last["checkpoint"] == "last" and val_last["split"] == "val_last" and val_last["clips"] == 12

    data = trained_run["data"]
    result = run_command(
        "evaluate", str(run), "--data-dir", str(data / "keypoints_val"), "--labels", str(data / "val_labels.csv")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    other = json.loads((run / "eval" / "keypoints_val" / "metrics.json").read_text())
    best_val = json.loads((run / "summary.json").read_text())["best"]["val_gloss_acc"]
    assert other["gloss"]["top1"] == pytest.approx(best_val)  # the val split, read as "other data"


def test_evaluate_errors_are_one_line(tmp_path, trained_run):
    result = run_command("evaluate", str(tmp_path / "nope"))
    assert result.returncode == 2 and "run folder not found" in result.stderr + result.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_command("evaluate", str(empty))
    out = result.stderr + result.stdout
    assert result.returncode == 2 and "has no checkpoints" in out and "Traceback" not in out

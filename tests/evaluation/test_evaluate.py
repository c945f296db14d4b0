"""The report training writes, and `signlang evaluate` rebuilding it from the run folder alone."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import run_app, run_command

from signlang.core.errors import DataError


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


def test_separately_trained_runs_are_averaged_as_one_model(trained_run, tmp_path):
    """``signlang evaluate RUN1 RUN2``: the average of their logits, as model=ensemble reads its members."""
    import torch

    from signlang.evaluation.evaluate import evaluate_average, load_run
    from signlang.evaluation.report import predict_probs

    first, second = tmp_path / "seed0", tmp_path / "seed1"
    shutil.copytree(trained_run["run"], first)
    result = run_app(*trained_run["args"], "trainer.seed=1", f"hydra.run.dir={second}")
    assert result.returncode == 0, result.stdout + result.stderr

    result = run_command("evaluate", str(first), str(second), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 runs averaged" in result.stdout
    metrics = json.loads((first / "eval" / "test_average" / "metrics.json").read_text())
    assert metrics["average_of"] == [str(first.resolve()), str(second.resolve())] and metrics["clips"] == 12
    assert not (second / "eval" / "test_average").exists()  # one report, in the first run

    runs = [load_run(first), load_run(second)]
    data = runs[0].data()
    clips, batches = data.split("test"), data.eval_loader("test")
    logits = []
    for run in runs:  # the same normalisation in both runs: one set of batches serves them
        run.model.eval()
        with torch.no_grad():
            out = torch.zeros(len(clips), 6)
            for batch in batches:
                out[batch.index] = run.model(batch.x, batch.pad_mask, batch.lengths)[0]
        logits.append(out)
    expected = torch.stack(logits).mean(0).softmax(-1)
    rows = list(csv.DictReader(open(first / "eval" / "test_average" / "predictions.csv")))
    names = runs[0].gloss_names
    assert [r["predicted"] for r in rows] == [names[i] for i in expected.argmax(1)]
    assert [float(r["confidence"]) for r in rows] == pytest.approx(expected.max(1).values.tolist(), abs=1e-4)
    alone = [
        float((predict_probs(r.model, batches, len(clips), "cpu")[0].argmax(1) == clips.gloss).mean()) for r in runs
    ]
    again, each = evaluate_average(runs, [(clips, batches)] * 2, name="test", device=torch.device("cpu"))
    assert each == alone and again["gloss_acc"] == metrics["gloss"]["top1"]
    assert (first / "eval" / "test_average_2").is_dir()  # the first report is kept

    fewer = SimpleNamespace(names=clips.names[:6], gloss=clips.gloss[:6])  # checked before any scoring
    with pytest.raises(DataError, match="other clips"):
        evaluate_average(runs, [(clips, batches), (fewer, batches)], name="test", device=torch.device("cpu"))
    for args, message in (
        ((str(first), str(first)), "given twice"),
        ((str(first), str(second), "--streams"), "score one run"),
    ):
        result = run_command("evaluate", *args)
        out = result.stdout + result.stderr
        assert result.returncode == 2 and message in out and "Traceback" not in out


def test_one_category_costs_nothing_and_reports_leave_it_out(tmp_path):
    """WLASL-style data (data.num_cat=1): no category numbers in the log, the report, the predictions."""
    import json

    from conftest import run_app, run_command, tiny_synthetic

    root = tiny_synthetic(num_cat=1).export(tmp_path / "data")
    result = run_app(
        "data=keypoints",
        f"data.root={root}",
        "data.num_gloss=6",
        "data.num_cat=1",
        "data.test_dir=${data.root}/keypoints_test",
        "data.test_labels=${data.root}/test_labels.csv",
        "trainer.max_epochs=2",
        "model.d_model=32",
        "model.num_heads=4",
        "model.dim_feedforward=64",
        "model.num_layers=1",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "run" / "run.log").read_text().replace(str(tmp_path), "")  # the folder names the test
    assert "epoch 2/2" in log and " cat " not in log and "category" not in log
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "val_cat_acc" not in summary["best"] and summary["final"]["cat_acc"] is None
    report = tmp_path / "run" / "eval" / "test"
    metrics = json.loads((report / "metrics.json").read_text())
    assert "category" not in metrics and "cat_top1" not in metrics["by_occluded"]["0"]
    assert "cat_true" not in (report / "predictions.csv").read_text().splitlines()[0]
    assert not (report / "confusion_category.png").exists() and (report / "confusion_gloss.png").exists()
    clip = str(next((root / "keypoints_test").glob("*.npz")))
    shown = run_command("predict", str(tmp_path / "run"), clip)
    assert shown.returncode == 0 and "category" not in shown.stdout
    as_json = json.loads(run_command("predict", str(tmp_path / "run"), clip, "--json").stdout)
    assert "category" not in as_json[0] and as_json[0]["gloss"]
    table = run_command("evaluate", str(tmp_path / "run"))
    assert table.returncode == 0 and "cat_acc" not in table.stdout


def copy_with_best(trained_run, tmp_path) -> tuple[Path, Path, dict]:
    """A copy of the trained run, its best checkpoint's path and contents (to rewrite as an older
    version of signlang would have written it)."""
    from signlang.runs.checkpoints import find_checkpoint, load_checkpoint

    run = tmp_path / "run"
    shutil.copytree(trained_run["run"], run)
    path = find_checkpoint(run, "best")
    return run, path, load_checkpoint(path)


def test_a_run_trained_before_a_model_option_existed_still_loads(trained_run, tmp_path):
    """Options added to conf/model later (off by default) are filled in; the model is the one trained."""
    from signlang.evaluation.evaluate import load_run
    from signlang.runs.checkpoints import save_checkpoint

    run, path, state = copy_with_best(trained_run, tmp_path)
    for key in ("conv_kernel", "drop_path", "head_dropout"):  # as a checkpoint written before they existed
        state["config"]["model"].pop(key)
    save_checkpoint(path, state)
    loaded = load_run(run)
    assert loaded.model.layers[0].conv is None and loaded.model.layers[0].drop_path == 0.0
    assert loaded.model.head_dropout.p == 0.0


def test_a_run_trained_before_hand_angles_existed_loads_without_them(trained_run, tmp_path):
    """``angles`` came in off and is on by default now: a checkpoint without the key was trained without them."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from signlang.evaluation.evaluate import load_run
    from signlang.runs.checkpoints import save_checkpoint

    run, path, state = copy_with_best(trained_run, tmp_path)
    assert state["config"]["model"].pop("angles") is True  # today's default
    without = OmegaConf.create({**state["config"]["model"], "angles": False})
    state["model"] = instantiate(without).state_dict()  # the weights of a model built before angles existed
    save_checkpoint(path, state)
    loaded = load_run(run)
    assert loaded.model.features.angles is False
    assert loaded.model.input_proj.in_features == instantiate(without).input_proj.in_features

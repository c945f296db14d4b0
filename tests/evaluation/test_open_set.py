""" "Not a sign I know": training leaves a calibrated threshold in the checkpoint, predict answers
unknown below it, calibrate chooses it again (keeping the old one), evaluate --unknown reports it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import run_command, tiny_synthetic

from signlang.evaluation.evaluate import load_run
from signlang.evaluation.predict import predict_files
from signlang.runs.checkpoints import find_checkpoint, load_checkpoint, save_checkpoint
from signlang.runs.lock import RunLock


@pytest.fixture
def run(trained_run, tmp_path):
    """A copy of the trained run, to write into."""
    shutil.copytree(trained_run["run"], tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture(scope="module")
def other_signs(tmp_path_factory):
    """Clips of glosses the run never saw (another synthetic vocabulary)."""
    root = tiny_synthetic(seed=7, num_gloss=4).export(tmp_path_factory.mktemp("other"))
    return root / "keypoints_test"


def test_training_leaves_a_threshold_chosen_on_val(trained_run):
    for which in ("best", "last"):
        state = load_checkpoint(find_checkpoint(trained_run["run"], which))
        rejection = state["rejection"]
        assert rejection["score"] == "energy"
        assert rejection["calibration"]["val_false_reject"] <= 0.01
    assert "rejection (best checkpoint)" in (trained_run["run"] / "run.log").read_text()


def test_predict_answers_unknown_below_the_threshold(run, trained_run):
    clip = str(next((trained_run["data"] / "keypoints_test").glob("*.npz")))
    (known,) = predict_files(str(run), [clip], device="cpu")
    assert known["rejection"]["threshold"] == load_run(run).rejector.threshold
    path = find_checkpoint(run, "best")
    state = load_checkpoint(path)
    state["rejection"]["threshold"] = float("inf")  # nothing is known any more
    save_checkpoint(path, state)
    (result,) = predict_files(str(run), [clip], device="cpu")
    assert result["answer"] == "unknown" and not result["known"] and result["gloss"][0]["label"]
    shown = run_command("predict", str(run), clip)
    assert "unknown" in shown.stdout and "nearest" in shown.stdout


def test_calibrate_chooses_again_and_keeps_the_threshold_it_replaces(run, other_signs):
    before = load_checkpoint(find_checkpoint(run, "best"))["rejection"]
    result = run_command(
        "calibrate", str(run), "--false-accept", "0.25", "--unknown", str(other_signs), "--score", "msp"
    )
    assert result.returncode == 0, result.stderr
    state = load_checkpoint(find_checkpoint(run, "best"))
    assert state["rejection"]["score"] == "msp" and state["rejection"]["calibration"]["criterion"] == "false_accept"
    assert state["rejection"]["calibration"]["val_false_accept"] <= 0.25
    assert state["rejection_history"][0]["threshold"] == before["threshold"]
    assert "model" in state and state["epoch"] == before.get("epoch", state["epoch"])  # the rest as it was


def test_calibrate_on_other_known_clips_for_a_run_that_trained_on_val(run, trained_run):
    """data.train_on_val: val is in the training batches, so the threshold is chosen on clips it did not see."""
    for which in ("best", "last"):
        path = find_checkpoint(run, which)
        state = load_checkpoint(path)
        state["config"]["data"]["train_on_val"] = True
        save_checkpoint(path, state)
    on_val = run_command("calibrate", str(run))
    assert on_val.returncode == 0, on_val.stderr
    warned = " ".join(on_val.stderr.split())
    assert "trained on its val split" in warned and "--data-dir" in warned
    test = trained_run["data"] / "keypoints_test"
    labels = trained_run["data"] / "test_labels.csv"
    result = run_command("calibrate", str(run), "--data-dir", str(test), "--labels", str(labels))
    assert result.returncode == 0, result.stderr
    assert "trained on its val split" not in " ".join(result.stderr.split())
    calibration = load_checkpoint(find_checkpoint(run, "best"))["rejection"]["calibration"]
    assert calibration["known_set"] == str(test) and calibration["val_clips"] == len(list(test.glob("*.npz")))
    assert "chosen on" in result.stdout
    half = run_command("calibrate", str(run), "--data-dir", str(test))
    assert half.returncode == 2 and "--labels" in half.stderr and "Traceback" not in half.stderr


def test_calibrate_waits_its_turn_behind_a_training_process(run):
    lock = RunLock(run).acquire()
    try:
        # the lock is this process's, so take it from another one
        import subprocess
        import sys

        code = f"import sys; from signlang.commands.cli import main; sys.exit(main(['calibrate', {str(run)!r}]))"
        lock.release()
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from signlang.runs.lock import RunLock; import time; "
                f"l = RunLock({str(run)!r}).acquire(); print('held', flush=True); time.sleep(30)",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout.readline().strip() == "held"
        refused = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        holder.kill()
        assert refused.returncode == 2 and str(run.name) in refused.stderr and "Traceback" not in refused.stderr
    finally:
        lock.release()


def test_false_accept_needs_clips_of_other_signs(run):
    result = run_command("calibrate", str(run), "--false-accept", "0.1")
    assert result.returncode == 2 and "--unknown" in result.stderr


def test_evaluate_unknown_reports_how_well_known_and_unknown_part(run, other_signs):
    result = run_command("evaluate", str(run), "--unknown", str(other_signs))
    assert result.returncode == 0, result.stderr
    (folder,) = (run / "eval").glob("test_open")
    report = json.loads((folder / "metrics.json").read_text())
    every = report["all_unknown"]
    assert every["known_clips"] == 12 and every["unknown_clips"] == len(list(other_signs.glob("*.npz")))
    assert 0.0 <= every["auroc"] <= 1.0
    assert every["known_accuracy_with_rejection"] <= every["known_accuracy"]
    assert set(report["auroc_by_score"]) == {"msp", "energy", "prototype", "knn"}
    coverage = every["accuracy_at_coverage"]
    assert coverage["1.00"] == pytest.approx(every["known_accuracy"])
    rows = (folder / "scores.csv").read_text().splitlines()
    assert len(rows) == 1 + every["known_clips"] + every["unknown_clips"]
    again = run_command("evaluate", str(run), "--unknown", str(other_signs))
    assert again.returncode == 0 and (run / "eval" / "test_open_2").is_dir()  # never overwritten


def test_a_checkpoint_without_a_threshold_says_how_to_get_one(run, other_signs):
    for which in ("best", "last"):
        path = find_checkpoint(run, which)
        state = load_checkpoint(path)
        state.pop("rejection")
        save_checkpoint(path, state)
    result = run_command("evaluate", str(run), "--unknown", str(other_signs))
    assert result.returncode == 2 and "signlang calibrate" in result.stderr
    clip = str(next(other_signs.glob("*.npz")))
    (answer,) = predict_files(str(run), [clip], device="cpu")
    assert answer["known"] and answer["rejection"] is None
    assert np.isfinite(answer["gloss"][0]["confidence"])

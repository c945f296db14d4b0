"""`signlang predict` on .npz clips, with names, confidences and clear shape errors."""

from __future__ import annotations

import json

import numpy as np
from conftest import run_command

from signlang.evaluation.predict import predict_files


def test_predict_returns_ranked_names_with_confidences(trained_run):
    files = sorted((trained_run["data"] / "keypoints_test").glob("*.npz"))[:3]
    results = predict_files(str(trained_run["run"]), [str(f) for f in files], top_k=3, device="cpu")
    assert [r["file"] for r in results] == [str(f) for f in files]
    for r in results:
        confidences = [g["confidence"] for g in r["gloss"]]
        assert len(r["gloss"]) == 3 and confidences == sorted(confidences, reverse=True)
        assert r["gloss"][0]["label"].startswith("SIGN ") and r["category"][0]["label"] in ("HANDS", "FACE")
        assert len(r["category"]) == 2  # top-k capped at the number of categories


def test_predict_agrees_with_the_evaluation_report(trained_run):
    files = sorted((trained_run["data"] / "keypoints_test").glob("*.npz"))
    results = predict_files(str(trained_run["run"]), [str(f) for f in files], device="cpu")
    rows = (trained_run["run"] / "eval" / "test" / "predictions.csv").read_text().splitlines()[1:]
    predicted = {row.split(",")[0]: row.split(",")[2] for row in rows}
    assert all(predicted[f.stem] == r["gloss"][0]["label"] for f, r in zip(files, results))


def test_cli_json_and_table(trained_run):
    file = str(sorted((trained_run["data"] / "keypoints_test").glob("*.npz"))[0])
    result = run_command("predict", str(trained_run["run"]), file, "--json", "--top-k", "2")
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert parsed[0]["file"] == file and len(parsed[0]["gloss"]) == 2
    result = run_command("predict", str(trained_run["run"]), file)
    assert result.returncode == 0 and "SIGN" in result.stdout


def test_shape_that_does_not_fit_the_model_is_a_clear_error(trained_run, tmp_path):
    bad = tmp_path / "features.npz"
    np.savez(bad, X=np.zeros((10, 2048), np.float32))
    result = run_command("predict", str(trained_run["run"]), str(bad))
    out = result.stdout + result.stderr
    assert result.returncode == 2 and "width 2048" in out and "reads keypoints" in out and "Traceback" not in out

"""``python run.py`` end to end: run folders, sweeps, and clean errors (in-process through the same Hydra
app; one real subprocess per entry point proves the commands themselves)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from conftest import run_app, run_cli

from signlang.runs.checkpoints import load_checkpoint
from signlang.runs.record import METRIC_COLUMNS

TINY = [
    "trainer=smoke",
    "data.num_gloss=4",
    "data.num_cat=2",
    "data.train_per_gloss=3",
    "data.val_per_gloss=2",
    "data.test_per_gloss=1",
    "data.min_len=4",
    "data.max_len=8",
    "model.hidden_sizes=[8]",
]


def check_run_folder(folder: Path, model_name: str) -> dict:
    assert (folder / ".hydra" / "config.yaml").is_file() and (folder / ".hydra" / "overrides.yaml").is_file()
    assert "epoch 1/1" in (folder / "run.log").read_text()
    with open(folder / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and set(METRIC_COLUMNS) <= set(rows[0])
    for which in ("best", "last"):
        state = load_checkpoint(folder / "checkpoints" / f"{model_name}_{which}.pt")
        assert state["model_name"] == model_name and state["config"]["trainer"]["max_epochs"] == 1
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["best_epoch"] == 1
    assert summary["wall_time_s"] >= float(rows[0]["epoch_time_s"])  # the epoch, and the set-up and report around it
    env = json.loads((folder / "env.json").read_text())
    assert env["packages"]["torch"] and env["python"] and "run.py" in " ".join(env["command"])
    assert env["git"] is None or len(env["git"]["commit"]) == 40
    return summary


@pytest.mark.parametrize(
    "model,name", [("transformer", "SignTransformer"), ("gru", "SignGRU"), ("iv3_gru", "InceptionV3GRU")]
)
def test_single_run_writes_a_complete_folder(tmp_path, model, name):
    args = [f"model={model}", "experiment=smoke", f"paths.output_root={tmp_path}"]
    if model != "transformer":
        args.append("model.hidden_sizes=[8]")
    result = run_app(*args)
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\d_\d\d-\d\d-\d\d_{model}_synthetic_[0-9a-f]{{6}}", folder.name)
    summary = check_run_folder(folder, name)
    assert summary["choices"]["model"] == model and summary["final"]["split"] == "test"
    assert str(folder) in result.stdout + result.stderr  # run folder printed


def test_multirun_gives_one_complete_folder_per_job(tmp_path):
    result = run_app("-m", "optim.lr=1e-3,1e-4", f"paths.output_root={tmp_path}", *TINY[:-1])
    assert result.returncode == 0, result.stderr
    (sweep,) = (tmp_path / "sweeps").iterdir()
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [j.name for j in jobs] == ["0", "1"]
    lrs = {check_run_folder(job, "SignTransformer")["overrides"][0] for job in jobs}
    assert lrs == {"optim.lr=0.001", "optim.lr=0.0001"}


def test_user_errors_exit_non_zero_with_one_message_and_no_traceback(tmp_path):
    result = run_app("data=keypoints", f"data.root={tmp_path}/nowhere", f"paths.output_root={tmp_path}")
    out = result.stdout + result.stderr
    assert result.returncode == 2
    assert "data directory not found" in out and "Traceback" not in out
    (folder,) = (tmp_path / "runs").iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "failed" and "data directory not found" in summary["error"]


def test_model_data_mismatch_names_the_data_option(tmp_path, npz_root):
    result = run_app("model=iv3_gru", "data=keypoints", f"data.root={npz_root}", f"paths.output_root={tmp_path}")
    assert result.returncode == 2 and "use data=features" in result.stdout + result.stderr


def test_file_backed_data_trains(tmp_path, npz_root):
    result = run_app(
        "model=iv3_gru",
        "data=features",
        f"data.root={npz_root}",
        "data.num_gloss=6",
        "data.num_cat=2",
        f"paths.output_root={tmp_path}",
        "trainer=smoke",
        "model.hidden_sizes=[8]",
    )
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    assert "_iv3_gru_features_" in folder.name
    summary = check_run_folder(folder, "InceptionV3GRU")
    assert summary["final"]["split"] == "val"  # no test split configured: says so


def test_the_commands_themselves(tmp_path):
    """The two entry points, as real processes: python run.py and signlang train."""
    result = run_cli("run.py", "experiment=smoke", f"paths.output_root={tmp_path / 'script'}")
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "script" / "runs").iterdir()
    check_run_folder(folder, "SignTransformer")
    assert str(folder) in result.stdout + result.stderr  # run folder printed
    assert run_cli("-m", "signlang", "--version").stdout.startswith("signlang ")
    result = run_cli("-m", "signlang", "train", "experiment=smoke", f"paths.output_root={tmp_path / 'cli'}")
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "cli" / "runs").iterdir()
    check_run_folder(folder, "SignTransformer")


def test_config_typos_exit_non_zero_without_traceback(tmp_path):
    for typo in ("trainer.max_epoc=1", "model=transfomer"):
        result = run_app(typo, f"paths.output_root={tmp_path}")
        out = result.stdout + result.stderr
        assert result.returncode == 1 and "Traceback" not in out
        assert typo.split("=")[0].split(".")[-1] in out or "transfomer" in out


def test_a_folder_that_holds_a_run_is_never_reused(tmp_path):
    folder = tmp_path / "fixed"
    first = run_app("experiment=smoke", f"hydra.run.dir={folder}")
    assert first.returncode == 0, first.stderr
    (folder / ".hydra" / "overrides.yaml").write_text("- marker\n")
    before = (folder / "metrics.csv").read_bytes(), (folder / "summary.json").read_bytes()
    second = run_app("experiment=smoke", f"hydra.run.dir={folder}")
    out = second.stdout + second.stderr
    assert second.returncode == 1 and "already holds a run" in out and "Traceback" not in out
    assert ((folder / "metrics.csv").read_bytes(), (folder / "summary.json").read_bytes()) == before
    assert "epoch 1/1" in (folder / "run.log").read_text()
    assert (folder / ".hydra" / "overrides.yaml").read_text() == "- marker\n"  # Hydra did not rewrite it


def test_a_failing_sweep_job_is_marked_and_the_others_still_run(tmp_path, npz_root):
    result = run_app(
        "-m",
        "data=keypoints",
        f"data.root={tmp_path}/nowhere,{npz_root}",
        "data.num_gloss=6",
        "data.num_cat=2",
        f"paths.output_root={tmp_path}",
        "trainer=smoke",
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "data directory not found" in out and "Traceback" not in out
    (sweep,) = (tmp_path / "sweeps").iterdir()
    statuses = [json.loads((sweep / job / "summary.json").read_text())["status"] for job in ("0", "1")]
    assert statuses == ["failed", "finished"]

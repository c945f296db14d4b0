"""Sweeps: the submitit launcher (local executor), Optuna, failing jobs, and resume-sweep."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import REPO, run_app, run_cli, run_command
from omegaconf import OmegaConf

from signlang.runs.sweep import sweep_jobs

TINY = [
    "trainer=smoke",
    "data.num_gloss=4",
    "data.num_cat=2",
    "data.train_per_gloss=3",
    "data.val_per_gloss=2",
    "data.test_per_gloss=1",
    "data.min_len=4",
    "data.max_len=8",
    "callbacks.console.progress=false",
]


def statuses(sweep):
    return [
        json.loads((sweep / str(i) / "summary.json").read_text())["status"]
        for i in range(len(list(sweep.glob("[0-9]*"))))
    ]


def test_submitit_local_two_job_sweep(tmp_path):
    """A real process: submitit pickles the task function, which must come from an importable script."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    result = run_cli(
        "run.py", "-m", "hydra/launcher=submitit_local", "optim.lr=1e-3,1e-4", f"paths.output_root={tmp_path}", *TINY
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (sweep,) = (tmp_path / "sweeps").iterdir()
    assert statuses(sweep) == ["finished", "finished"]
    assert "2 job(s)" in result.stderr  # the summary table


def test_three_trial_optuna_search(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    storage = f"sqlite:///{tmp_path}/study.db"
    args = [
        "-m",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=3",
        f"hydra.sweeper.storage={storage}",
        f"paths.output_root={tmp_path}",
        *TINY,
    ]
    result = run_app(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    (sweep,) = (tmp_path / "sweeps").iterdir()
    assert statuses(sweep) == ["finished"] * 3
    results = (sweep / "optimization_results.yaml").read_text()
    assert "best_params" in results and "optim.lr" in results
    import optuna

    study = optuna.load_study(study_name="signlang", storage=storage)  # persisted: can be resumed
    best = [json.loads((sweep / str(i) / "summary.json").read_text())["best"]["val_gloss_acc"] for i in range(3)]
    assert len(study.trials) == 3 and study.best_value == pytest.approx(max(best))  # what run.py returned, per job


def hydra_job_overrides(sweep) -> list[list[str]]:
    """What Hydra itself launched each job with (``<job>/.hydra/overrides.yaml``)."""
    jobs = sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    return [list(OmegaConf.load(job / ".hydra" / "overrides.yaml")) for job in jobs]


def test_the_job_list_is_rebuilt_as_hydra_built_it_from_sweeper_params_and_the_command_line(tmp_path):
    """experiment=smoke sweeps the model through hydra.sweeper.params; the command line adds a second axis."""
    result = run_app(
        "-m",
        "experiment=smoke",
        "optim.lr=1e-3,1e-4",
        f"paths.output_root={tmp_path}",
        "callbacks.console.progress=false",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (sweep,) = (tmp_path / "sweeps").iterdir()
    jobs, launched_from = sweep_jobs(sweep)
    assert len(jobs) == 4 and jobs == hydra_job_overrides(sweep)
    assert launched_from.resolve() == (REPO).resolve()


def test_a_failing_job_is_marked_the_others_finish_and_resume_sweep_relaunches_it(tmp_path, npz_root):
    later = tmp_path / "later"  # does not exist yet: job 0 fails
    args = [
        "-m",
        "data=keypoints",
        f"data.root={later},{npz_root}",
        "data.num_gloss=6",
        "data.num_cat=2",
        f"paths.output_root={tmp_path}",
        "trainer=smoke",
        "callbacks.console.progress=false",
    ]
    result = run_app(*args)
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "data directory not found" in out and "Traceback" not in out
    assert "1 of 2 job(s) did not finish" in out
    (sweep,) = (tmp_path / "sweeps").iterdir()
    assert statuses(sweep) == ["failed", "finished"]
    jobs, _ = sweep_jobs(sweep)
    assert [j for j in jobs[0] if j.startswith("data.root")] == [f"data.root={later}"]
    assert jobs == hydra_job_overrides(sweep)

    dry = run_command("resume-sweep", str(sweep), "--dry-run")
    assert dry.returncode == 0 and "job 0" in dry.stdout and "job 1" not in dry.stdout
    shutil.copytree(npz_root, later)  # fix the cause, then re-launch what did not finish
    finished_before = (sweep / "1" / "metrics.csv").read_bytes()
    result = run_command("resume-sweep", str(sweep))
    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses(sweep) == ["finished", "finished"]
    assert (sweep / "0" / "summary.attempt1.json").exists()  # the failed attempt's record is kept
    assert (sweep / "0" / ".hydra.attempt1" / "overrides.yaml").exists()
    assert (sweep / "1" / "metrics.csv").read_bytes() == finished_before  # finished jobs are left alone
    again = run_command("resume-sweep", str(sweep))
    assert "nothing to do" in again.stdout

"""Experiment trackers: TensorBoard event files read back with TensorBoard's own reader, and MLflow
runs read back through its client, from a local SQLite store and from a real ``mlflow server``."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import local_server, run_app

SMOKE = [
    "trainer=smoke",
    "trainer.max_epochs=2",
    "data.num_gloss=4",
    "data.num_cat=2",
    "data.train_per_gloss=3",
    "data.val_per_gloss=2",
    "data.test_per_gloss=2",
    "data.min_len=4",
    "data.max_len=8",
    "model.d_model=32",
    "model.num_heads=4",
    "model.dim_feedforward=64",
    "model.num_layers=1",
]


def test_tensorboard_gets_scalars_per_epoch_the_config_and_the_confusion_images(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = run_app(*SMOKE, "logger=tensorboard", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stdout + result.stderr
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train/loss", "val/loss", "val/gloss_acc", "lr"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("val/gloss_acc")] == [1, 2]
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[1:]
    assert events.Scalars("val/loss")[-1].value == pytest.approx(float(rows[-1].split(",")[5]))
    assert "config/text_summary" in tags["tensors"] and "test/confusion_gloss" in tags["images"]


def read_mlflow(uri: str, experiment: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    return client, client.search_runs([found.experiment_id])


def test_mlflow_local_store_records_the_run_and_a_resume_continues_it(tmp_path):
    pytest.importorskip("mlflow")
    result = run_app(*SMOKE, "logger=mlflow", f"paths.output_root={tmp_path}")
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    client, (run,) = read_mlflow(f"sqlite:///{tmp_path}/mlflow.db", "signlang")
    assert run.info.status == "FINISHED" and run.data.tags["model"] == "transformer" and run.data.tags["seed"] == "0"
    assert run.data.params["model.d_model"] == "32" and run.data.params["trainer.max_epochs"] == "2"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val/gloss_acc")] == [1, 2]
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"eval", "curves.png", "metrics.csv", "hydra"}
    assert json.loads((folder / "summary.json").read_text())["mlflow"]["run_id"] == run.info.run_id

    result = run_app(f"trainer.resume={folder}", "trainer.max_epochs=3")
    assert result.returncode == 0, result.stdout + result.stderr
    client, (again,) = read_mlflow(f"sqlite:///{tmp_path}/mlflow.db", "signlang")  # the same run, not a new one
    assert again.info.run_id == run.info.run_id and again.data.tags["resumed"] == "true"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val/gloss_acc")] == [1, 2, 3]


@pytest.fixture
def mlflow_server(tmp_path):
    """A real tracking server on 127.0.0.1, SQLite behind it, serving artifacts itself."""
    pytest.importorskip("mlflow")

    def command(port: int) -> list[str]:
        server = ["mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        store = [
            "--backend-store-uri",
            f"sqlite:///{tmp_path}/server.db",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
        ]
        return [sys.executable, "-m", *server, *store]

    with local_server(command, "/health", tmp_path / "server.log") as uri:
        yield uri


def test_a_sweep_logs_to_an_mlflow_server_one_experiment_for_all_its_jobs(tmp_path, mlflow_server):
    result = run_app(
        "-m",
        *SMOKE,
        "trainer.seed=0,1",
        "logger=mlflow",
        f"logger.mlflow.tracking_uri={mlflow_server}",
        f"paths.output_root={tmp_path}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (sweep,) = (tmp_path / "sweeps").iterdir()
    client, runs = read_mlflow(mlflow_server, sweep.name)
    assert sorted((r.data.tags["job"], r.data.tags["seed"]) for r in runs) == [("0", "0"), ("1", "1")]
    for run in runs:
        assert (
            run.info.status == "FINISHED"
            and run.data.tags["sweep"] == sweep.name
            and len(run.data.tags["git_commit"]) >= 7
        )
        assert [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")] == [1, 2]
        assert {a.path for a in client.list_artifacts(run.info.run_id, "eval/test")} >= {
            "eval/test/metrics.json",
            "eval/test/confusion_gloss.png",
        }

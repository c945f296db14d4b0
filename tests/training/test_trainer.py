"""The training loop writes a complete run folder and picks the best epoch by val gloss accuracy."""

from __future__ import annotations

import csv
import functools
import json

import pytest
import torch

from signlang.errors import ConfigError
from signlang.models import InceptionV3GRU, SignTransformer
from signlang.training.checkpoint import load_checkpoint
from signlang.training.run_folder import RunFolder
from signlang.training.schedulers import cosine
from signlang.training.trainer import METRIC_COLUMNS, Trainer, param_groups

from conftest import tiny_synthetic


def fit(tmp_path, model, kind="keypoints", epochs=3):
    torch.manual_seed(0)
    data = tiny_synthetic(kind)
    trainer = Trainer(max_epochs=epochs, device="cpu", progress=False)
    run = RunFolder(tmp_path / "run")
    summary = trainer.fit(
        model,
        data,
        optimizer=functools.partial(torch.optim.AdamW, lr=3e-3),
        scheduler=functools.partial(cosine, epochs=epochs),
        run=run,
        config={"model": {"name": "x"}},
    )
    return run, summary


@pytest.mark.parametrize(
    "make,kind",
    [
        (lambda: SignTransformer(156, 6, 2, d_model=32, num_layers=1, num_heads=4, dim_feedforward=64), "keypoints"),
        (lambda: InceptionV3GRU(2048, 6, 2, hidden_sizes=[16]), "features"),
    ],
)
def test_fit_writes_metrics_checkpoints_and_summary(tmp_path, make, kind):
    model = make()
    run, summary = fit(tmp_path, model, kind)
    name = type(model).__name__
    with open(run.metrics_path) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert tuple(rows[0]) == METRIC_COLUMNS
    assert float(rows[0]["lr"]) == pytest.approx(3e-3) and float(rows[2]["lr"]) < float(rows[1]["lr"])

    on_disk = json.loads(run.summary_path.read_text())
    assert on_disk == summary and summary["status"] == "finished" and summary["epochs_completed"] == 3
    best_epoch = max(rows, key=lambda r: (float(r["val_gloss_acc"]), -float(r["val_loss"])))["epoch"]
    assert summary["best_epoch"] == int(best_epoch)
    assert summary["final"]["split"] == "test" and summary["final"]["checkpoint"] == "best"
    assert summary["wall_time_s"] > 0

    for which in ("best", "last"):
        state = load_checkpoint(run.checkpoint_path(name, which))
        assert {"model", "optimizer", "scheduler", "epoch", "best_metric", "config", "gloss_names", "cat_names"} <= set(state)
        assert state["gloss_names"][0] == "gloss_00" and state["model_name"] == name
    assert load_checkpoint(run.checkpoint_path(name, "last"))["epoch"] == 3
    assert load_checkpoint(run.checkpoint_path(name, "best"))["epoch"] == summary["best_epoch"]
    assert bool(model.input_norm.fitted)


def test_training_improves_on_synthetic_data(tmp_path):
    model = SignTransformer(156, 6, 2, d_model=64, num_layers=2, num_heads=4, dim_feedforward=128)
    run, summary = fit(tmp_path, model, epochs=8)
    rows = list(csv.DictReader(open(run.metrics_path)))
    assert float(rows[-1]["train_loss"]) < 0.7 * float(rows[0]["train_loss"])
    assert summary["best"]["val_gloss_acc"] > 1 / 6


def test_no_decay_on_biases_and_norms():
    model = SignTransformer(156, 6, 2, d_model=32, num_layers=1, num_heads=4, dim_feedforward=64, pooling="cls")
    decay, no_decay = param_groups(model)
    assert all(p.ndim >= 2 for p in decay["params"]) and no_decay["weight_decay"] == 0.0
    assert any(p is model.cls_token for p in no_decay["params"])


def test_bad_trainer_settings():
    with pytest.raises(ConfigError, match="max_epochs"):
        Trainer(max_epochs=0)
    with pytest.raises(ConfigError, match="is not a device"):
        Trainer(device="gpu0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_asking_for_cuda_without_it_is_a_config_error():
    with pytest.raises(ConfigError, match="CUDA is not available"):
        Trainer(device="cuda")

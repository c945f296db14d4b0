"""The training loop writes a complete run folder and picks the best epoch by val gloss accuracy."""

from __future__ import annotations

import csv
import functools
import json
import logging

import pytest
import torch
from conftest import tiny_synthetic
from torch import nn

from signlang.errors import ConfigError
from signlang.models import InceptionV3GRU, SignTransformer
from signlang.training.checkpoint import load_checkpoint
from signlang.training.run_folder import RunFolder
from signlang.training.schedulers import cosine
from signlang.training.trainer import METRIC_COLUMNS, Trainer, TrainingDiverged, param_groups


def fit(tmp_path, model, kind="keypoints", epochs=3):
    torch.manual_seed(0)
    data = tiny_synthetic(kind)
    trainer = Trainer(max_epochs=epochs, device="cpu", progress=False)
    run = RunFolder(tmp_path / "run")
    summary = trainer.fit(
        model,
        data,
        optimizer=functools.partial(torch.optim.AdamW, lr=3e-3),
        scheduler=cosine,
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
    # still "running": run.py evaluates the best checkpoint next, then marks it finished
    assert on_disk == summary and summary["status"] == "running" and summary["epochs_completed"] == 3
    best_epoch = max(rows, key=lambda r: (float(r["val_gloss_acc"]), -float(r["val_loss"])))["epoch"]
    assert summary["best_epoch"] == int(best_epoch)
    assert summary["wall_time_s"] > 0

    for which in ("best", "last"):
        state = load_checkpoint(run.checkpoint_path(name, which))
        assert {"model", "optimizer", "scheduler", "epoch", "best_metric", "config", "gloss_names", "cat_names"} <= set(
            state
        )
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


def small_transformer():
    return SignTransformer(156, 6, 2, d_model=32, num_layers=1, num_heads=4, dim_feedforward=64)


def fit_with(tmp_path, model=None, epochs=3, lr=3e-3, data=None, **trainer_options):
    torch.manual_seed(0)
    trainer = Trainer(max_epochs=epochs, device="cpu", progress=False, **trainer_options)
    run = RunFolder(tmp_path / "run")
    summary = trainer.fit(
        model or small_transformer(),
        data or tiny_synthetic(),
        optimizer=functools.partial(torch.optim.AdamW, lr=lr),
        scheduler=cosine,
        run=run,
    )
    return run, summary


def test_early_stop_ends_the_run_and_says_so(tmp_path):
    run, summary = fit_with(tmp_path, epochs=30, lr=0.0, early_stop=2)  # lr 0: nothing ever improves
    assert summary["epochs_completed"] == 3 and summary["early_stopped"] == {"epoch": 3, "patience": 2}
    assert summary["best_epoch"] == 1
    assert len(list(csv.DictReader(open(run.metrics_path)))) == 3


def test_grad_clip_and_label_smoothing_change_training(tmp_path):
    _, plain = fit_with(tmp_path / "a", epochs=1)
    _, clipped = fit_with(tmp_path / "b", epochs=1, grad_clip=1e-3)
    _, smoothed = fit_with(tmp_path / "c", epochs=1, label_smoothing=0.2)
    assert clipped["best"] != plain["best"] and smoothed["best"] != plain["best"]


def test_amp_on_cpu_is_turned_off_with_one_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        trainer = Trainer(device="cpu", amp=True)
    assert not trainer.amp
    assert sum("trainer.amp=true needs CUDA" in r.message for r in caplog.records) == 1


def test_loader_options_with_workers_repeat_the_in_process_numbers(tmp_path):
    _, in_process = fit_with(tmp_path / "a", epochs=2)
    _, workers = fit_with(
        tmp_path / "b", epochs=2, data=tiny_synthetic(num_workers=2, prefetch_factor=3, pin_memory=False)
    )
    assert workers["best"] == in_process["best"]


class Diverging(nn.Module):
    """Returns NaN logits from the 3rd training step on."""

    input_kind = "keypoints"

    def __init__(self):
        super().__init__()
        self.inner = small_transformer()
        self.steps = 0

    def forward(self, x, pad_mask, lengths=None):
        g, c = self.inner(x, pad_mask)
        if self.training:
            self.steps += 1
            if self.steps >= 3:
                g = g * float("nan")
        return g, c


def test_non_finite_loss_stops_with_epoch_and_step_and_keeps_the_last_good_checkpoint(tmp_path):
    # tiny_synthetic has 24 train clips in batches of 8: steps 1-3 of epoch 1, so no good checkpoint
    with pytest.raises(TrainingDiverged, match=r"non-finite loss at epoch 1, step 3"):
        fit_with(tmp_path / "a", model=Diverging(), epochs=3)
    model = Diverging()
    model.steps = -3  # NaN from step 3 of epoch 2
    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 3.*last good checkpoint \(epoch 1\)"):
        fit_with(tmp_path / "b", model=model, epochs=3)
    last = load_checkpoint(tmp_path / "b" / "run" / "checkpoints" / "Diverging_last.pt")
    assert last["epoch"] == 1 and all(torch.isfinite(v).all() for v in last["model"].values() if v.is_floating_point())


def steps_of(run):
    return [int(r["step"]) for r in csv.DictReader(open(run.metrics_path))]


def test_max_steps_ends_at_that_step_mid_epoch(tmp_path):
    # 24 train clips in batches of 8: 3 steps an epoch; 7 steps = 3 + 3 + 1
    run, summary = fit_with(tmp_path, epochs=50, max_steps=7)
    assert steps_of(run) == [3, 6, 7]
    assert summary["steps_completed"] == 7 and summary["epochs_completed"] == 3
    assert load_checkpoint(run.checkpoint_path("SignTransformer", "last"))["scheduler"]["last_epoch"] == 7


def test_min_steps_lengthens_short_runs_and_the_schedule_with_them(tmp_path):
    run, summary = fit_with(tmp_path, epochs=2, min_steps=10)  # 2 epochs are 6 steps: 4 epochs, the last one 1 step
    assert steps_of(run) == [3, 6, 9, 10]
    lrs = [float(r["lr"]) for r in csv.DictReader(open(run.metrics_path))]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] > 0.01 * 3e-3  # one cosine over all 10 steps
    run, summary = fit_with(tmp_path / "long", epochs=4, min_steps=5)  # already long enough: unchanged
    assert steps_of(run) == [3, 6, 9, 12]


def test_length_is_logged_with_its_expected_time_before_training(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        fit_with(tmp_path, epochs=2)
    lines = [r.getMessage() for r in caplog.records]
    length = next(
        i for i, m in enumerate(lines) if m.startswith("length: 6 steps (trainer.max_epochs=2; 2 epochs of 3 steps")
    )
    assert "expected time about" in lines[length]
    assert length < next(i for i, m in enumerate(lines) if m.startswith("epoch 1/2"))


def test_ema_validates_and_saves_the_averaged_weights_and_keeps_the_raw_ones(tmp_path):
    model = small_transformer()
    run, _ = fit_with(tmp_path, model=model, epochs=2, ema=0.9)
    state = load_checkpoint(run.checkpoint_path("SignTransformer", "last"))
    raw, averaged = state["train_model"], state["model"]
    assert state["ema_updates"] == 6
    assert all(torch.equal(raw[k], v) for k, v in model.state_dict().items())  # the trained weights
    weights = [k for k, v in raw.items() if v.is_floating_point() and "input_norm" not in k]
    assert all(not torch.equal(raw[k], averaged[k]) for k in weights)
    assert all(torch.equal(raw[k], averaged[k]) for k in raw if "input_norm" in k)  # statistics are not averaged away
    with pytest.raises(ConfigError, match="trainer.ema"):
        fit_with(tmp_path / "bad", epochs=1, ema=1.5)


@pytest.mark.parametrize("monitor", ["val_loss", "last"])
def test_monitor_picks_the_best_epoch(tmp_path, monitor):
    run, summary = fit_with(tmp_path, epochs=4, monitor=monitor)
    rows = list(csv.DictReader(open(run.metrics_path)))
    expected = 4 if monitor == "last" else int(min(rows, key=lambda r: float(r["val_loss"]))["epoch"])
    assert summary["best_epoch"] == expected
    assert load_checkpoint(run.checkpoint_path("SignTransformer", "best"))["epoch"] == expected
    with pytest.raises(ConfigError, match="trainer.monitor"):
        Trainer(monitor="val_acc")

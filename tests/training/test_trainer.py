"""The training loop writes a complete run folder and picks the best epoch by val gloss accuracy."""

from __future__ import annotations

import csv
import functools
import json
import logging
import re

import pytest
import torch
from conftest import build_model, default_callbacks, small_transformer, tiny_synthetic
from torch import nn

from signlang.core.errors import ConfigError
from signlang.models.layers import Mix
from signlang.runs.checkpoints import load_checkpoint
from signlang.runs.folder import RunFolder
from signlang.runs.record import METRIC_COLUMNS
from signlang.training.callbacks import TrainingDiverged
from signlang.training.optim import param_groups
from signlang.training.schedulers import cosine
from signlang.training.trainer import Trainer


def fit(tmp_path, model, kind="keypoints", epochs=3):
    torch.manual_seed(0)
    data = tiny_synthetic(kind)
    trainer = Trainer(max_epochs=epochs, device="cpu", callbacks=default_callbacks())
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
        (lambda: build_model("transformer", d_model=32, num_layers=1, num_heads=4, dim_feedforward=64), "keypoints"),
        (lambda: build_model("iv3_gru", hidden_sizes=[16]), "features"),
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
    assert summary["wall_time_s"] >= sum(float(r["epoch_time_s"]) for r in rows)  # the epochs, and what came before

    for which in ("best", "last"):
        state = load_checkpoint(run.checkpoint_path(name, which))
        assert {"model", "optimizer", "scheduler", "epoch", "callbacks", "config", "gloss_names", "cat_names"} <= set(
            state
        )
        assert state["gloss_names"][0] == "gloss_00" and state["model_name"] == name
    assert load_checkpoint(run.checkpoint_path(name, "last"))["epoch"] == 3
    assert load_checkpoint(run.checkpoint_path(name, "best"))["epoch"] == summary["best_epoch"]
    assert bool(model.input_norm.fitted)


def test_training_improves_on_synthetic_data(tmp_path):
    model = build_model("transformer", d_model=64, num_layers=2, num_heads=4, dim_feedforward=128)
    run, summary = fit(tmp_path, model, epochs=8)
    rows = list(csv.DictReader(open(run.metrics_path)))
    assert float(rows[-1]["train_loss"]) < 0.7 * float(rows[0]["train_loss"])
    assert summary["best"]["val_gloss_acc"] > 1 / 6


def test_no_decay_on_biases_and_norms():
    model = build_model("transformer", d_model=32, num_layers=1, num_heads=4, dim_feedforward=64, pooling="cls")
    decay, no_decay = param_groups(model)
    assert all(p.ndim >= 2 for p in decay["params"]) and no_decay["weight_decay"] == 0.0
    assert any(p is model.cls_token for p in no_decay["params"])


def test_bad_trainer_settings():
    with pytest.raises(ConfigError, match="max_epochs"):
        Trainer(max_epochs=0)
    with pytest.raises(ConfigError, match="default_min_steps"):
        Trainer(default_min_steps=2.5)
    with pytest.raises(ConfigError, match="is not a device"):
        Trainer(device="gpu0")
    with pytest.raises(ConfigError, match="trainer.compile"):
        Trainer(compile="fast")
    with pytest.raises(ConfigError, match="trainer.mixup"):
        Trainer(mixup=-0.2)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_asking_for_cuda_without_it_is_a_config_error():
    with pytest.raises(ConfigError, match="CUDA is not available"):
        Trainer(device="cuda")


def fit_with(tmp_path, model=None, epochs=3, lr=3e-3, data=None, callbacks=None, **trainer_options):
    torch.manual_seed(0)
    trainer = Trainer(
        max_epochs=epochs,
        device="cpu",
        callbacks=default_callbacks() if callbacks is None else callbacks,
        **trainer_options,
    )
    run = RunFolder(tmp_path / "run")
    summary = trainer.fit(
        model or small_transformer(),
        data or tiny_synthetic(),
        optimizer=functools.partial(torch.optim.AdamW, lr=lr),
        scheduler=cosine,
        run=run,
    )
    return run, summary


def test_grad_clip_caps_the_gradient_norm_the_optimizer_steps_with():
    data = tiny_synthetic()
    batch = data.split("train").batch(list(range(8)))

    def grad_norm(**options) -> float:
        torch.manual_seed(0)
        model, trainer = small_transformer(), Trainer(device="cpu", **options)
        model.input_norm = None  # unfitted statistics are fine here: only the gradient's size matters
        trainer.train_step(model, batch, torch.optim.SGD(model.parameters(), lr=0.0), trainer.grad_scaler())
        return float(
            torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters() if p.grad is not None]))
        )

    assert grad_norm() > 0.1  # unclipped, the gradient of a fresh model is far above the cap below
    assert grad_norm(grad_clip=1e-3) == pytest.approx(1e-3, rel=1e-3)


def test_label_smoothing_is_in_both_heads_of_the_loss():
    data = tiny_synthetic()
    batch = data.split("train").batch(list(range(8)))
    gloss = torch.nn.functional.one_hot(batch.gloss, 6).float() * 20  # confident and right
    cat = torch.nn.functional.one_hot(batch.cat, 2).float() * 20
    plain, smoothed = (
        Trainer(device="cpu").loss((gloss, cat), batch),
        Trainer(device="cpu", label_smoothing=0.2).loss((gloss, cat), batch),
    )

    def by_hand(logits, y, eps):  # (1 - eps) * CE(true class) + eps * mean over classes of CE(class)
        logp = logits.log_softmax(-1)
        return ((1 - eps) * -logp.gather(1, y[:, None]).squeeze(1) + eps * -logp.mean(-1)).mean()

    assert float(plain) < 1e-6
    assert float(smoothed) == pytest.approx(
        float(0.5 * by_hand(gloss, batch.gloss, 0.2) + 0.5 * by_hand(cat, batch.cat, 0.2)), rel=1e-5
    )


def test_mixup_blends_the_loss_as_it_blends_the_clips():
    data = tiny_synthetic()
    batch = data.split("train").batch(list(range(8)))
    torch.manual_seed(0)
    gloss, cat = torch.randn(8, 6), torch.randn(8, 2)
    trainer, partner = Trainer(device="cpu", mixup=0.4), torch.roll(torch.arange(8), 1)
    ce = torch.nn.functional.cross_entropy
    own = 0.5 * ce(gloss, batch.gloss) + 0.5 * ce(cat, batch.cat)
    theirs = 0.5 * ce(gloss, batch.gloss[partner]) + 0.5 * ce(cat, batch.cat[partner])
    mixed = trainer.mixed_loss((gloss, cat), batch, Mix(partner, 0.3))
    assert float(mixed) == pytest.approx(float(0.3 * own + 0.7 * theirs), rel=1e-6)
    assert float(trainer.mixed_loss((gloss, cat), batch, None)) == pytest.approx(float(own), rel=1e-6)


def test_mixup_draws_a_partner_for_every_clip_and_a_weight_from_its_beta():
    torch.manual_seed(0)
    assert Trainer(device="cpu").draw_mix(8) is None  # off by default
    draws = [Trainer(device="cpu", mixup=0.2).draw_mix(8) for _ in range(200)]
    assert all(sorted(d.partner.tolist()) == list(range(8)) for d in draws)
    lams = torch.tensor([d.lam for d in draws])
    assert ((lams < 0.1) | (lams > 0.9)).float().mean() > 0.5  # Beta(0.2, 0.2): mostly near one clip
    assert abs(float(lams.mean()) - 0.5) < 0.1


def test_mixup_trains_repeatably_and_is_refused_by_a_model_that_cannot_blend(tmp_path):
    runs = [fit_with(tmp_path / str(i), mixup=0.4)[0] for i in range(2)] + [fit_with(tmp_path / "off")[0]]
    losses = [[r["train_loss"] for r in csv.DictReader(open(run.metrics_path))] for run in runs]
    assert losses[0] == losses[1] and losses[0] != losses[2]  # seeded: same blends twice; and it did blend

    class NoBlend(nn.Module):
        input_kind = "keypoints"

        def forward(self, x, pad_mask, lengths=None):
            return x.mean(1)[:, :6], x.mean(1)[:, :2]

    with pytest.raises(ConfigError, match="NoBlend cannot: set trainer.mixup=0"):
        fit_with(tmp_path / "refused", model=NoBlend(), mixup=0.4)


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


def test_the_default_length_has_a_step_floor_that_lengthens_short_runs_and_the_schedule(tmp_path):
    run, _ = fit_with(tmp_path, epochs=None, default_epochs=2, default_min_steps=10)  # 2 epochs are 6 steps
    assert steps_of(run) == [3, 6, 9, 10]  # 4 epochs, the last one 1 step
    lrs = [float(r["lr"]) for r in csv.DictReader(open(run.metrics_path))]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] > 0.01 * 3e-3  # one cosine over all 10 steps
    run, _ = fit_with(tmp_path / "long", epochs=None, default_epochs=4, default_min_steps=5)  # already long enough
    assert steps_of(run) == [3, 6, 9, 12]


def test_a_length_the_user_sets_wins_over_the_default_length():
    trainer = Trainer(max_epochs=4, default_epochs=30, default_min_steps=6000)  # the keypoint recipe's floor
    assert trainer.total_steps(10) == 40 and trainer.length_reason(10) == "trainer.max_epochs=4"
    trainer = Trainer(max_epochs=4, max_steps=7, default_min_steps=6000)
    assert trainer.total_steps(10) == 7 and trainer.length_reason(10) == "trainer.max_steps=7"
    trainer = Trainer(default_epochs=30, default_min_steps=6000)  # nothing set: the recipe decides
    assert trainer.total_steps(10) == 6000
    assert trainer.length_reason(10) == "trainer.default_min_steps=6000: trainer.default_epochs=30 would be 300"
    assert Trainer(default_epochs=30, default_min_steps=100).total_steps(10) == 300


def test_length_is_logged_with_its_expected_time_before_training(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        fit_with(tmp_path, epochs=2)
    lines = [r.getMessage() for r in caplog.records]
    length = next(
        i for i, m in enumerate(lines) if m.startswith("length: 6 steps (trainer.max_epochs=2; 2 epochs of 3 steps")
    )
    assert "expected time about" in lines[length]
    first = next(i for i, m in enumerate(lines) if m.startswith("epoch 1/2"))
    assert length < first
    # after the first epoch, the time left at its pace; once
    assert lines[first + 1].startswith("at this epoch's pace the rest of the run takes about ")
    assert re.search(r"takes about \d+ s \(1 more of \d+\.\ds\)$", lines[first + 1])
    assert sum(m.startswith("at this epoch's pace") for m in lines) == 1


def test_train_on_val_trains_on_both_splits_and_refuses_what_val_would_choose(tmp_path, caplog):
    """data.train_on_val: a final fit on train + val at a set length; nothing may be chosen on val."""
    from rich.console import Console

    from signlang.runs.table import read_run, render
    from signlang.training.callbacks import EarlyStopping
    from signlang.training.schedulers import plateau

    with caplog.at_level(logging.WARNING, logger="signlang"):
        run, summary = fit_with(
            tmp_path, data=tiny_synthetic(train_on_val=True), epochs=2, callbacks=default_callbacks(monitor="last")
        )
    assert summary["steps_completed"] == 2 * 5  # 24 train + 12 val clips in batches of 8 (3 steps without val)
    assert summary["best_epoch"] == 2 and "training on train + val (36 clips)" in caplog.text
    assert summary["val_seen"] is True and "rejection: calibrated on val, which this run trained on" in caplog.text
    row = read_run(run.path, tmp_path)  # signlang runs: its val numbers are not shown as if held out
    assert row.val_seen and row.val_gloss is None and summary["best"]["val_gloss_acc"] is not None
    console = Console(record=True, width=200)
    render([row], console, "runs")
    assert "seen" in console.export_text()
    _, alone = fit_with(tmp_path / "alone", epochs=1, callbacks=default_callbacks(monitor="last"))
    assert alone["steps_completed"] == 3 and alone["val_seen"] is False

    for callbacks, message in (
        (default_callbacks(), "callbacks.checkpoint.monitor=last"),
        ([*default_callbacks(monitor="last"), EarlyStopping(patience=2)], "drop callbacks.early_stopping"),
    ):
        with pytest.raises(ConfigError, match=message):
            fit_with(tmp_path / message[:9], data=tiny_synthetic(train_on_val=True), epochs=1, callbacks=callbacks)
    trainer = Trainer(max_epochs=1, device="cpu", callbacks=default_callbacks(monitor="last"))
    with pytest.raises(ConfigError, match="scheduler=plateau"):
        trainer.fit(
            small_transformer(),
            tiny_synthetic(train_on_val=True),
            optimizer=functools.partial(torch.optim.AdamW, lr=1e-3),
            scheduler=plateau,
            run=RunFolder(tmp_path / "plateau"),
        )
    with pytest.raises(ConfigError, match="data.train_on_val must be true or false"):
        tiny_synthetic(train_on_val="yes")

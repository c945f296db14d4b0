"""The callbacks around the loop: the best epoch, weight averaging, early stopping, and one of your own."""

from __future__ import annotations

import csv

import pytest
import torch
from conftest import compose_config, default_callbacks, small_transformer
from test_trainer import fit_with

from signlang.core.errors import ConfigError
from signlang.runs.checkpoints import load_checkpoint
from signlang.training.callbacks import Callback, Checkpoint, EarlyStopping, Rejection, WeightAveraging, build_callbacks


def rows(run) -> list[dict[str, str]]:
    return list(csv.DictReader(open(run.metrics_path)))


def test_early_stopping_ends_the_run_and_says_so(tmp_path):
    callbacks = [*default_callbacks(), EarlyStopping(patience=2)]
    run, summary = fit_with(tmp_path, epochs=30, lr=0.0, callbacks=callbacks)  # lr 0: nothing ever improves
    assert summary["epochs_completed"] == 3 and summary["early_stopped"] == {"epoch": 3, "patience": 2}
    assert summary["best_epoch"] == 1 and len(rows(run)) == 3
    with pytest.raises(ConfigError, match="callbacks.early_stopping.patience"):
        EarlyStopping(patience=0)


def test_weight_averaging_validates_and_saves_the_average_and_keeps_the_raw_weights(tmp_path):
    model = small_transformer()
    run, _ = fit_with(tmp_path, model=model, epochs=2, callbacks=[WeightAveraging(0.9), *default_callbacks()])
    state = load_checkpoint(run.checkpoint_path("SignTransformer", "last"))
    raw, averaged = state["train_model"], state["model"]
    assert state["callbacks"]["WeightAveraging"] == {"updates": 6}  # 2 epochs of 3 steps
    assert all(torch.equal(raw[k], v) for k, v in model.state_dict().items())  # the trained weights
    weights = [k for k, v in raw.items() if v.is_floating_point() and "input_norm" not in k]
    assert all(not torch.equal(raw[k], averaged[k]) for k in weights)
    assert all(torch.equal(raw[k], averaged[k]) for k in raw if "input_norm" in k)  # statistics are not averaged away
    with pytest.raises(ConfigError, match="callbacks.ema.decay"):
        WeightAveraging(1.5)


@pytest.mark.parametrize("monitor", ["val_loss", "last"])
def test_the_checkpoint_callback_picks_the_best_epoch_by_its_monitor(tmp_path, monitor):
    run, summary = fit_with(tmp_path, epochs=4, callbacks=default_callbacks(monitor=monitor))
    expected = 4 if monitor == "last" else int(min(rows(run), key=lambda r: float(r["val_loss"]))["epoch"])
    assert summary["best_epoch"] == expected
    assert load_checkpoint(run.checkpoint_path("SignTransformer", "best"))["epoch"] == expected
    with pytest.raises(ConfigError, match="callbacks.checkpoint.monitor"):
        default_callbacks(monitor="val_acc")


class Counting(Callback):
    """A callback of a user's own: counts what it is called for."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_fit_start(self, fit) -> None:
        self.calls.append("fit_start")

    def on_train_step(self, fit, step, loss) -> None:
        self.calls.append("step")

    def on_epoch_end(self, fit, row) -> None:
        self.calls.append(f"epoch {row['epoch']}")
        if row["epoch"] == 2:
            fit.stop = "enough"

    def teardown(self, fit) -> None:
        self.calls.append("teardown")


def test_a_callback_of_your_own_sees_every_step_and_can_stop_the_run(tmp_path):
    counting = Counting()
    run, summary = fit_with(tmp_path, epochs=5, callbacks=[*default_callbacks(), counting])
    assert counting.calls == ["fit_start", *["step"] * 3, "epoch 1", *["step"] * 3, "epoch 2", "teardown"]
    assert summary["epochs_completed"] == 2 and len(rows(run)) == 2


def test_without_callbacks_the_loop_still_writes_its_record(tmp_path):
    run, summary = fit_with(tmp_path, epochs=2, callbacks=[])
    assert len(rows(run)) == 2 and summary["epochs_completed"] == 2 and "best_epoch" not in summary
    assert run.checkpoint_path("SignTransformer", "last").is_file()  # resuming needs it, whatever the callbacks
    assert not run.checkpoint_path("SignTransformer", "best").exists()


def test_the_callbacks_config_adds_drops_and_orders():
    built = build_callbacks(compose_config().callbacks)
    names = ["FiniteLoss", "Checkpoint", "Console", "Rejection"]
    assert [type(c).__name__ for c in built] == names  # hook order, not YAML order
    keypoints = build_callbacks(compose_config("data=keypoints").callbacks)  # the recipe adds weight averaging
    assert [type(c).__name__ for c in keypoints] == ["WeightAveraging", *names]
    assert keypoints[2].monitor == "val_loss" and keypoints[0].decay == 0.999
    dropped = build_callbacks(compose_config("data=keypoints", "callbacks.ema=null").callbacks)
    assert "WeightAveraging" not in [type(c).__name__ for c in dropped]
    added = build_callbacks(
        compose_config("callbacks=[default,early_stopping]", "callbacks.early_stopping.patience=3").callbacks
    )
    assert [c.patience for c in added if isinstance(c, EarlyStopping)] == [3]
    assert build_callbacks(compose_config("callbacks=none").callbacks) == []


def test_the_rejection_callback_calibrates_the_best_and_last_checkpoints_on_val(tmp_path):
    run, summary = fit_with(tmp_path, epochs=3, callbacks=[Checkpoint(), Rejection("msp", 0.1)])
    for which in ("best", "last"):
        state = load_checkpoint(run.checkpoint_path("SignTransformer", which))
        rejection = state["rejection"]
        assert rejection["score"] == "msp" and rejection["calibration"]["val_false_reject"] <= 0.1
        assert rejection["calibration"]["val_clips"] == 12  # tiny_synthetic: 6 glosses x 2 val clips
        assert state["epoch"] == (summary["best_epoch"] if which == "best" else 3)  # otherwise as it was
        assert "optimizer" in state and "rejection_history" not in state
    for bad in ({"score": "max"}, {"false_reject": 1.0}, {"k": 0}):
        with pytest.raises(ConfigError, match="callbacks.rejection|false_reject"):
            Rejection(**bad)

"""Learning-rate schedules over a run's optimizer steps."""

from __future__ import annotations

import math

import pytest
import torch

from signlang.core.errors import ConfigError
from signlang.training.schedulers import constant, cosine, per_epoch, plateau


def lrs(make, epochs, metric=None):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = make(opt)
    out = []
    for e in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(metric(e)) if metric else sched.step()
    return out


def test_constant():
    assert lrs(constant, 4) == [1.0] * 4


def test_cosine_decays_over_the_run_and_never_hits_zero_early():
    values = lrs(lambda o: cosine(o, total_steps=4), 4)
    assert values[0] == 1.0
    assert values == sorted(values, reverse=True) and values[-1] > 0
    assert values[2] == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 4)))


def test_warmup_then_cosine():
    values = lrs(lambda o: cosine(o, total_steps=6, warmup_epochs=2), 6)
    assert values[0] < values[1] < values[2] == 1.0
    assert values[3:] == sorted(values[3:], reverse=True)


def test_warmup_is_counted_in_epochs_of_steps():
    values = lrs(lambda o: cosine(o, total_steps=40, steps_per_epoch=10, warmup_epochs=0.5), 40)
    assert values[:6] == sorted(values[:6]) and values[4] < 1.0 == values[5]  # 5 warm-up steps
    assert values[5:] == sorted(values[5:], reverse=True) and values[-1] > 0


def test_only_plateau_steps_per_epoch():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    assert per_epoch(plateau(opt)) and not per_epoch(cosine(opt, total_steps=5)) and not per_epoch(constant(opt))


def test_plateau_cuts_the_lr_when_accuracy_stalls():
    values = lrs(lambda o: plateau(o, patience=1, factor=0.5), 6, metric=lambda e: 0.5)
    assert values[0] == 1.0 and values[-1] < 1.0


def test_bad_settings():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(ConfigError):
        cosine(opt, total_steps=3, warmup_epochs=3)
    with pytest.raises(ConfigError):
        plateau(opt, factor=1.5)

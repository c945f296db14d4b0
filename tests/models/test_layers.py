"""The fast dropout keeps the expectation, respects the seed, and is off in eval mode; mixup's blend
lines clips up in time and every model applies it."""

from __future__ import annotations

import functools

import pytest
import torch
from conftest import CONF, build_model

from signlang.models.ensemble import SignEnsemble
from signlang.models.layers import Dropout, FeatureDropout, Mix, dropout, mix_frames


def test_dropout_keeps_the_mean_and_drops_the_right_share():
    torch.manual_seed(0)
    x = torch.ones(200, 1000)
    y = dropout(x, 0.1, training=True)
    assert abs((y == 0).float().mean().item() - 0.1) < 0.005
    assert abs(y.mean().item() - 1.0) < 0.01
    assert torch.equal(dropout(x, 0.1, training=False), x)


def test_dropout_follows_the_torch_seed_and_passes_gradients():
    torch.manual_seed(1)
    a = dropout(torch.ones(50, 50), 0.3, True)
    torch.manual_seed(1)
    b = dropout(torch.ones(50, 50), 0.3, True)
    assert torch.equal(a, b)
    x = torch.ones(10, 10, requires_grad=True)
    dropout(x, 0.5, True).sum().backward()
    assert set(x.grad.unique().tolist()) <= {0.0, 2.0}


def test_feature_dropout_drops_whole_channels_per_clip():
    torch.manual_seed(0)
    layer = FeatureDropout(0.5).train()
    y = layer(torch.ones(4, 30, 64))
    dropped = y[:, 0, :] == 0
    assert torch.equal((y == 0), dropped[:, None, :].expand_as(y))  # the same channels in every frame
    assert torch.equal(FeatureDropout(0.5).eval()(torch.ones(2, 3, 4)), torch.ones(2, 3, 4))
    assert "p=0.2" in repr(Dropout(0.2))


def test_mix_frames_lines_each_clip_up_with_its_partner_start_to_end():
    h = torch.arange(8.0).view(2, 4, 1)  # clip 0: frames 0..3; clip 1: frames 4, 5 and two padded
    h[1, 2:] = float("nan")  # padding: no real frame may read it
    pad = torch.tensor([[False] * 4, [False, False, True, True]])
    swap = torch.tensor([1, 0])
    own = mix_frames(h, pad, Mix(swap, 1.0))
    assert torch.equal(own[0], h[0]) and torch.equal(own[1, :2], h[1, :2])
    partner = mix_frames(h, pad, Mix(swap, 0.0)).squeeze(-1)
    assert partner[0].tolist() == [4.0, 4.0, 5.0, 5.0]  # the 2-frame partner stretched over 4 frames
    assert partner[1, :2].tolist() == [0.0, 2.0]  # the 4-frame partner squeezed into 2
    blend = mix_frames(h, pad, Mix(swap, 0.25)).squeeze(-1)
    assert blend[0].tolist() == [3.0, 3.25, 4.25, 4.5]  # 0.25 own + 0.75 partner, frame by frame
    assert torch.isfinite(blend[1, :2]).all()


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONF / "model").glob("*.yaml")))
def test_every_model_blends_clips_where_asked_and_only_then(name):
    """All weight on the clip is no blend; all weight on the partner (clips of one length, no padding)
    is the partner's output: the blend happens before anything that sees a clip's own time axis."""
    torch.manual_seed(0)
    if name == "ensemble":
        member = functools.partial(
            build_model, "transformer", d_model=32, num_layers=1, num_heads=4, dim_feedforward=64
        )
        model, dim = SignEnsemble(156, member=member, size=2, flip_tta=False), 156
    elif name == "transformer":
        model, dim = build_model(name, d_model=32, num_layers=1, num_heads=4, dim_feedforward=64), 156
    elif name == "gru":
        model, dim = build_model(name, hidden_sizes=[16]), 156
    else:  # a model option not listed here fails: every model takes trainer.mixup's blend
        model, dim = build_model(name, hidden_sizes=[16]), 2048
    model.train()
    for m in model.modules():  # training mode (the ensemble stacks its members) without dropout's draws
        if hasattr(m, "p"):
            m.p = 0.0
    x, pad = torch.rand(3, 7, dim), torch.zeros(3, 7, dtype=torch.bool)
    partner = torch.tensor([2, 0, 1])
    plain = model(x, pad)[0]
    assert torch.allclose(model(x, pad, mix=Mix(partner, 1.0))[0], plain, atol=1e-6)
    assert torch.allclose(model(x, pad, mix=Mix(partner, 0.0))[0], plain[..., partner, :], atol=1e-5)
    assert not torch.allclose(model(x, pad, mix=Mix(partner, 0.5))[0], plain, atol=1e-3)

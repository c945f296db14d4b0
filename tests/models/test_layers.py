"""The fast dropout keeps the expectation, respects the seed, and is off in eval mode."""

from __future__ import annotations

import torch

from signlang.models.layers import Dropout, FeatureDropout, dropout


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

"""SignTransformer learns, and padding never changes a clip's output."""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F
from conftest import build_model

from signlang.core.errors import ConfigError

SMALL = dict(  # plain 78-point input: no hand views, no hand angles
    input_dim=156,
    num_gloss=5,
    num_cat=2,
    d_model=32,
    num_layers=2,
    num_heads=4,
    dim_feedforward=64,
    hands=False,
    angles=False,
)


def batch(lengths=(7, 3, 5), width=156, seed=0):
    g = torch.Generator().manual_seed(seed)
    T = max(lengths)
    x = torch.rand(len(lengths), T, width, generator=g)
    pad = torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]
    return x.masked_fill(pad[..., None], 0.0), pad


def assert_padding_ignored(model, width: int) -> None:
    """Noise in the padded frames changes nothing, and a clip scores the same alone as in a batch."""
    x, pad = batch(width=width)
    noisy = x.clone()
    noisy[pad] = torch.randn_like(noisy[pad]) * 100
    with torch.no_grad():
        a, b = model(x, pad), model(noisy, pad)
        alone = model(x[1:2, :3], pad[1:2, :3])
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[0][1:2], alone[0], atol=1e-5, rtol=1e-4)


def losses_on_a_fixed_batch(model, width: int, lr: float, steps: int = 30) -> list[float]:
    """Train on one small batch; a model that can learn drives its loss down quickly."""
    x, pad = batch(width=width)
    gloss, cat = torch.tensor([0, 3, 4]), torch.tensor([0, 1, 1])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        g, c = model(x, pad)
        loss = F.cross_entropy(g, gloss) + F.cross_entropy(c, cat)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_loss_drops_on_a_fixed_batch():
    torch.manual_seed(0)
    losses = losses_on_a_fixed_batch(build_model("transformer", **SMALL), width=156, lr=3e-3)
    assert losses[-1] < 0.2 * losses[0]


@pytest.mark.parametrize("pooling", ["mean", "max", "cls"])
def test_padding_content_does_not_change_outputs(pooling):
    torch.manual_seed(0)
    model = build_model("transformer", **SMALL, pooling=pooling).eval()
    x, pad = batch()
    noisy = x.clone()
    noisy[pad] = torch.randn_like(noisy[pad]) * 100
    with torch.no_grad():
        a, b = model(x, pad), model(noisy, pad)
        alone = model(x[1:2, :3], pad[1:2, :3])  # the 3-frame clip without any padding
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[1], b[1])
    torch.testing.assert_close(a[0][1:2], alone[0], atol=1e-5, rtol=1e-4)


def test_clips_longer_than_the_position_table_work(caplog):
    model = build_model("transformer", **SMALL, max_len=8).eval()
    x, pad = batch(lengths=(20, 4))
    with caplog.at_level(logging.WARNING):
        g, c = model(x, pad)
    assert g.shape == (2, 5) and torch.isfinite(g).all()
    assert "longer than model.max_len" in caplog.text


def test_input_norm_uses_training_statistics_and_keeps_missing_points_at_zero():
    model = build_model("transformer", **SMALL)
    frames = torch.rand(100, 156).numpy() * 0.1 + 0.5
    frames[:10, :4] = 0.0  # two undetected points in 10 frames
    model.input_norm.fit(frames)
    assert bool(model.input_norm.fitted)
    y = model.input_norm(torch.from_numpy(frames))
    assert torch.all(y[:10, :4] == 0)
    assert y[10:].mean().abs() < 0.1 and (y[10:].std() - 1).abs() < 0.1
    assert "input_norm.mean" in model.state_dict()


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="pooling"):
        build_model("transformer", **{**SMALL, "d_model": 32}, pooling="sum")
    with pytest.raises(ConfigError, match="num_heads"):
        build_model("transformer", **{**SMALL, "num_heads": 5})


@pytest.mark.parametrize("motion,mask_input", [(True, False), (False, True), (True, True)])
def test_motion_and_mask_inputs_keep_padding_out(motion, mask_input):
    torch.manual_seed(0)
    model = build_model("transformer", **{**SMALL, "motion": motion, "mask_input": mask_input}).eval()
    x, pad = batch()
    noisy = x.clone()
    noisy[pad] = torch.randn_like(noisy[pad])
    with torch.no_grad():
        a, b = model(x, pad), model(noisy, pad)
    torch.testing.assert_close(a[0], b[0])
    assert model.input_proj.in_features == 156 * (2 if motion else 1) + (78 if mask_input else 0)


def test_the_convolution_and_stochastic_depth_keep_padding_out_and_learn():
    torch.manual_seed(0)
    model = build_model("transformer", **SMALL, conv_kernel=5, drop_path=0.2)
    assert [round(layer.drop_path, 2) for layer in model.layers] == [0.1, 0.2]  # growing with depth
    assert (
        losses_on_a_fixed_batch(model, width=156, lr=3e-3)[-1]
        < 0.5
        * losses_on_a_fixed_batch(
            build_model("transformer", **SMALL, conv_kernel=5, drop_path=0.2), width=156, lr=0.0, steps=1
        )[0]
    )
    model.eval()
    assert_padding_ignored(model, width=156)
    with pytest.raises(ConfigError, match="odd"):
        build_model("transformer", **SMALL, conv_kernel=4)
    with pytest.raises(ConfigError, match="drop_path"):
        build_model("transformer", **SMALL, drop_path=1.0)


def test_head_dropout_thins_the_clip_vector_in_training_only():
    torch.manual_seed(0)
    model = build_model("transformer", **SMALL, head_dropout=0.5)
    x, pad = batch()
    pooled = model.embed(x, pad)
    zeros = (pooled == 0).float().mean().item()
    assert 0.3 < zeros < 0.7  # about half of each clip vector dropped
    model.eval()
    with torch.no_grad():
        a, b = model.embed(x, pad), model.embed(x, pad)
    assert torch.equal(a, b) and (a != 0).all()
    plain = build_model("transformer", **SMALL)
    plain.load_state_dict(model.state_dict())  # no parameters of its own: the same weights load either way
    with torch.no_grad():
        torch.testing.assert_close(plain.eval()(x, pad)[0], model(x, pad)[0])
    with pytest.raises(ConfigError, match="head_dropout"):
        build_model("transformer", **SMALL, head_dropout=1.0)


def test_hand_angles_widen_the_input_keep_padding_out_and_learn():
    torch.manual_seed(0)
    model = build_model("transformer", **{**SMALL, "hands": True, "angles": True})
    assert model.input_proj.in_features == 156 + 80 + 80
    assert (
        losses_on_a_fixed_batch(model, width=156, lr=3e-3)[-1]
        < 0.5
        * losses_on_a_fixed_batch(
            build_model("transformer", **{**SMALL, "hands": True, "angles": True}), width=156, lr=0.0, steps=1
        )[0]
    )
    model.eval()
    assert_padding_ignored(model, width=156)

"""InceptionV3GRU learns, packs sequences so padding is ignored, and builds its backbone only on request."""

from __future__ import annotations

import pytest
import torch
from conftest import build_model
from test_transformer import assert_padding_ignored, batch, losses_on_a_fixed_batch
from torchvision.models import inception_v3

from signlang.core.errors import ConfigError
from signlang.models.inception import imagenet_weights_file, inception_backbone

SMALL = dict(input_dim=2048, num_gloss=5, num_cat=2, hidden_sizes=[32, 16])


def test_loss_drops_on_a_fixed_batch():
    torch.manual_seed(0)
    model = build_model("iv3_gru", **SMALL, dropout=0.0, input_dropout=0.0)
    losses = losses_on_a_fixed_batch(model, width=2048, lr=1e-2)
    assert losses[-1] < 0.2 * losses[0]


@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_content_does_not_change_outputs(bidirectional):
    torch.manual_seed(0)
    model = build_model("iv3_gru", **SMALL, bidirectional=bidirectional).eval()
    assert_padding_ignored(model, width=2048)
    assert model.gloss_head.in_features == 16 * (2 if bidirectional else 1)


def test_backbone_is_not_built_unless_asked():
    assert build_model("iv3_gru", **SMALL).backbone is None


def test_backbone_reads_frames_with_local_weights(tmp_path):
    weights = tmp_path / "iv3.pt"
    torch.save(inception_v3(weights=None, aux_logits=False, init_weights=False).state_dict(), weights)
    model = build_model("iv3_gru", **SMALL, backbone="inception_v3", pretrained=str(weights)).eval()
    assert model.input_kind == "frames"
    assert not any(p.requires_grad for p in model.backbone.parameters())  # frozen by default
    frames = torch.rand(1, 2, 3, 299, 299)
    pad = torch.tensor([[False, True]])  # only the real frame goes through InceptionV3
    with torch.no_grad():
        g, c = model(frames, pad)
    assert g.shape == (1, 5) and c.shape == (1, 2)


def test_imagenet_weights_come_from_torchs_cache_the_torchvision_way(tmp_path, monkeypatch):
    """``model.pretrained=true``: torchvision's weights API, read from torch's hub cache (no network
    here: the file is put where torchvision would have downloaded it)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = imagenet_weights_file()
    assert cached == tmp_path / "hub" / "checkpoints" / "inception_v3_google-0cc3c7bd.pth"
    cached.parent.mkdir(parents=True)
    torch.manual_seed(1)
    saved = inception_v3(weights=None, aux_logits=True, init_weights=False)  # as torchvision publishes it
    torch.save(saved.state_dict(), cached)
    net = inception_backbone(True)
    assert net.transform_input and torch.equal(net.Conv2d_1a_3x3.conv.weight, saved.Conv2d_1a_3x3.conv.weight)
    model = build_model("iv3_gru", **SMALL, backbone="inception_v3", pretrained=True)
    assert torch.equal(model.backbone.Mixed_7c.branch1x1.conv.weight, saved.Mixed_7c.branch1x1.conv.weight)


def test_imagenet_weights_offline_and_not_cached_say_where_to_put_them(tmp_path, monkeypatch):
    import urllib.error

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(ConfigError) as refused:
        build_model("iv3_gru", **SMALL, backbone="inception_v3", pretrained=True)
    message = str(refused.value)
    assert (
        str(imagenet_weights_file()) in message
        and "download.pytorch.org" in message
        and "model.pretrained=FILE" in message
    )


def test_missing_backbone_weights_are_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="weights not found"):
        build_model("iv3_gru", **SMALL, backbone="inception_v3", pretrained=str(tmp_path / "none.pt"))
    with pytest.raises(ConfigError, match="hidden_sizes"):
        build_model("iv3_gru", **{**SMALL, "hidden_sizes": []})


def test_float16_input_gives_float32_outputs_close_to_float32_input():
    torch.manual_seed(0)
    model = build_model("iv3_gru", **SMALL).eval()
    x, pad = batch(width=2048)
    with torch.no_grad():
        full, half = model(x, pad), model(x.half(), pad)
    assert half[0].dtype == torch.float32
    torch.testing.assert_close(full[0], half[0], atol=2e-3, rtol=1e-2)

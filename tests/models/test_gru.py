"""SignGRU learns on keypoints; the GRU stack keeps padding out of every clip's result."""

from __future__ import annotations

import pytest
import torch
from conftest import build_model
from test_transformer import batch, losses_on_a_fixed_batch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from signlang.core.errors import ConfigError
from signlang.models.gru import build_grus, last_states

SMALL = dict(input_dim=156, num_gloss=5, num_cat=2, hidden_sizes=[24, 16], hands=False, motion=False)


def packed_last(grus, h, lengths):
    for gru in grus:
        out, hidden = gru(pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False))
        h, _ = pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])
    return hidden[-1]


def test_unidirectional_fast_path_equals_packed_sequences():
    torch.manual_seed(0)
    grus, _ = build_grus(12, [16, 8], bidirectional=False)
    x, pad = batch(width=12)
    with torch.no_grad():
        fast = last_states(grus, x, pad, None, torch.nn.Identity())
        packed = packed_last(grus, x, (~pad).sum(1))
    torch.testing.assert_close(fast, packed, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("options", [{}, {"hands": True, "motion": True}, {"bidirectional": True}])
def test_sign_gru_loss_drops_on_a_fixed_batch(options):
    torch.manual_seed(0)
    losses = losses_on_a_fixed_batch(build_model("gru", **{**SMALL, **options}), width=156, lr=1e-2)
    assert losses[-1] < 0.3 * losses[0]


def test_padding_does_not_change_a_clips_output():
    torch.manual_seed(0)
    model = build_model("gru", **{**SMALL, "hands": True, "motion": True}).eval()
    x, pad = batch()
    with torch.no_grad():
        together = model(x, pad)[0]
        alone = model(x[1:2, :3], pad[1:2, :3])[0]
    torch.testing.assert_close(together[1:2], alone, atol=1e-5, rtol=1e-4)


def test_bad_sizes_are_a_config_error():
    with pytest.raises(ConfigError, match="hidden_sizes"):
        build_model("gru", **{**SMALL, "hidden_sizes": []})
    with pytest.raises(ConfigError, match="use data=keypoints"):
        build_model("gru", **{**SMALL, "input_dim": 40, "hands": True})


def test_hand_written_layer_runs_on_cpu_up_to_its_size_limit(monkeypatch):
    """The gate follows the benchmark: hand-written at <= HAND_GRU_MAX_HIDDEN units, nn.GRU above."""
    import signlang.models.gru as gru_module
    from signlang.models.gru_layer import HAND_GRU_MAX_HIDDEN

    used = []
    real = gru_module.gru_layer
    monkeypatch.setattr(gru_module, "gru_layer", lambda gru, h: used.append(gru.hidden_size) or real(gru, h))
    sizes = [12, HAND_GRU_MAX_HIDDEN, HAND_GRU_MAX_HIDDEN + 1]
    grus, _ = build_grus(8, sizes, bidirectional=False)
    h, pad_mask = torch.randn(2, 5, 8), torch.zeros(2, 5, dtype=torch.bool)
    last_states(grus, h, pad_mask, None, torch.nn.Identity())
    assert used == [12, HAND_GRU_MAX_HIDDEN]

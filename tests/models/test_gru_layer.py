"""The hand-written GRU layer matches nn.GRU exactly: outputs and every gradient."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from signlang.models.gru_layer import gru_layer


@pytest.mark.parametrize("shape", [(3, 7, 5, 4), (1, 1, 6, 2), (4, 20, 2048, 16)])
def test_matches_nn_gru_in_value_and_gradient(shape):
    batch, steps, inputs, hidden = shape
    torch.manual_seed(0)
    gru = nn.GRU(inputs, hidden, batch_first=True).double()
    x = torch.randn(batch, steps, inputs, dtype=torch.float64, requires_grad=True)
    target = torch.randn(batch, steps, hidden, dtype=torch.float64)

    mine = gru_layer(gru, x)
    (mine * target).sum().backward()
    grads = [p.grad.clone() for p in gru.parameters()] + [x.grad.clone()]
    gru.zero_grad()
    x.grad = None

    reference, _ = gru(x)
    (reference * target).sum().backward()
    torch.testing.assert_close(mine, reference, rtol=1e-10, atol=1e-10)
    for got, want in zip(grads, [p.grad for p in gru.parameters()] + [x.grad]):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_gradcheck():
    torch.manual_seed(1)
    gru = nn.GRU(3, 2, batch_first=True).double()
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, *_: gru_layer(gru, x), (x, *gru.parameters()))

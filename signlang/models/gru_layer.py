"""A GRU layer with a hand-written backward pass, for small hidden sizes on CPU.

With hidden sizes like the reference IV3-GRU's 16/12, ``nn.GRU`` on CPU is bound by per-op
overhead: autograd records ~25 tiny ops per time step. Here the forward keeps what the backward
needs in time-major buffers, every quantity that does not depend on the incoming gradient is
computed for all steps at once, and each backward step is four small ops. Same equations and
parameters as ``nn.GRU`` (gate order r, z, n; ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``),
checked against it to float64 precision in the tests.
"""

from __future__ import annotations

import torch
from torch import nn

# The hand-written layer is used on CPU up to this hidden size. ``python -m signlang.bench`` prints
# the comparison at every size signlang builds; on 2 idle cores (batch 32, 80 frames) it was 1.3-1.8x
# faster at the reference's 16/12, 1.2x at 192, 1.1x at 256, and only 1.02-1.06x at 512, where
# nn.GRU's fused kernel is kept.
HAND_GRU_MAX_HIDDEN = 256


class _GRULayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):  # x [B,T,I], h0 [B,H]
        batch, steps, _ = x.shape
        hidden = w_hh.shape[1]
        gi = (
            torch.addmm(b_ih, x.reshape(batch * steps, -1), w_ih.t())
            .view(batch, steps, 3 * hidden)
            .transpose(0, 1)
            .contiguous()
        )
        rz = x.new_empty(steps, batch, 2 * hidden)
        n = x.new_empty(steps, batch, hidden)
        ghn = x.new_empty(steps, batch, hidden)
        out = x.new_empty(steps, batch, hidden)
        w_hh_t = w_hh.t()
        h = h0
        for t in range(steps):
            gh = torch.addmm(b_hh, h, w_hh_t)
            torch.sigmoid(gi[t, :, : 2 * hidden] + gh[:, : 2 * hidden], out=rz[t])
            ghn[t] = gh[:, 2 * hidden :]
            torch.tanh(torch.addcmul(gi[t, :, 2 * hidden :], rz[t, :, :hidden], ghn[t]), out=n[t])
            h = torch.lerp(n[t], h, rz[t, :, hidden:], out=out[t])  # (1 - z) * n + z * h
        ctx.save_for_backward(x, h0, w_ih, w_hh, rz, n, ghn, out)
        return out.transpose(0, 1).contiguous()

    @staticmethod
    def backward(ctx, grad_out):  # grad_out [B,T,H]
        x, h0, w_ih, w_hh, rz, n, ghn, out = ctx.saved_tensors
        steps, batch, hidden = n.shape
        r, z = rz[..., :hidden], rz[..., hidden:]
        h_prev = torch.cat([h0[None], out[:-1]])
        # dL/d(pre-activations) = dh * K, with K independent of dh: computed for all steps at once.
        dan_dh = (1 - z) * (1 - n * n)  # through n
        k = torch.stack([dan_dh * ghn * r * (1 - r), (h_prev - n) * z * (1 - z), dan_dh * r], dim=2)  # [T,B,3,H]
        grad = grad_out.transpose(0, 1)
        dh_all = torch.empty_like(n)
        dgh = torch.empty(steps, batch, 3, hidden, dtype=n.dtype, device=n.device)
        dh = torch.zeros_like(h0)
        for t in range(steps - 1, -1, -1):
            dh = torch.add(dh, grad[t], out=dh_all[t])
            torch.mul(dh.unsqueeze(1), k[t], out=dgh[t])
            dh = torch.addmm(dh * z[t], dgh[t].view(batch, 3 * hidden), w_hh)
        dgh = dgh.view(steps, batch, 3 * hidden)
        dgi = torch.cat([dgh[..., : 2 * hidden], dh_all * dan_dh], dim=-1)
        dgi_bm = dgi.transpose(0, 1).reshape(batch * steps, 3 * hidden)
        d_x = (dgi_bm @ w_ih).view_as(x) if ctx.needs_input_grad[0] else None
        d_w_ih = dgi_bm.t() @ x.reshape(batch * steps, -1)
        d_w_hh = dgh.reshape(-1, 3 * hidden).t() @ h_prev.reshape(-1, hidden)
        return d_x, dh, d_w_ih, d_w_hh, dgi.sum((0, 1)), dgh.sum((0, 1))


def gru_layer(gru: nn.GRU, x: torch.Tensor) -> torch.Tensor:
    """Run a one-layer, unidirectional, batch-first ``nn.GRU``'s parameters over ``x [B,T,I]`` -> ``[B,T,H]``."""
    h0 = x.new_zeros(x.shape[0], gru.hidden_size)
    return _GRULayer.apply(x, h0, gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)

"""Building blocks shared by the models, written for speed on CPU as well as GPU."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout. On CPU a uniform draw and a compare is ~2x faster than ``F.dropout``'s
    Bernoulli sampling (measured: 17 vs 37 ms for 4M values on 2 cores), and dropout was 40% of a
    SignTransformer step there. Same expectation, same torch RNG (so seeds and resumes hold)."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, training=True)
    return x * ((torch.rand_like(x) >= p) * (1.0 / (1.0 - p)))


class Dropout(nn.Module):
    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class FeatureDropout(nn.Module):
    """Drops whole input channels of a clip (the same for every frame): ``x [B,T,D]``.

    Cheap on wide inputs (one draw per clip and channel instead of per value) and a stronger
    regulariser for per-frame features, whose channels are highly correlated over time.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def keep(self, x: torch.Tensor) -> torch.Tensor | None:
        """The scaled keep mask ``[B,1,D]`` for ``x [B,T,D]`` (None when nothing is dropped), for callers
        that fold it into another multiply."""
        if not self.training or self.p == 0.0:
            return None
        return (torch.rand(x.shape[0], 1, x.shape[2], device=x.device) >= self.p).float() * (1.0 / (1.0 - self.p))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keep = self.keep(x)
        return x if keep is None else x * keep.to(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"


@dataclass(frozen=True)
class Mix:
    """Mixup inside a model (``trainer.mixup``): clip ``i`` of the batch is blended with clip
    ``partner[i]``, weight ``lam`` on its own frames. The trainer draws it; models apply it with
    :func:`mix_frames` where their per-frame vectors first exist, and the loss is blended the same way."""

    partner: torch.Tensor  # [B] int64, a permutation of the batch
    lam: float


def mix_frames(h: torch.Tensor, pad_mask: torch.Tensor, mix: Mix) -> torch.Tensor:
    """``h [B,T,D]`` blended with each clip's partner, the partner resampled in time to the clip's own
    length (frame ``t`` of ``L`` meets the partner's frame ``floor(t * L' / L)``): a short and a long
    performance of a sign line up start to end, and no real frame meets padding. The clip keeps its
    own padding mask; its padded positions stay whatever they were blended with (they are masked)."""
    lengths = (~pad_mask).sum(1).clamp(min=1)
    other = lengths[mix.partner]
    t = torch.arange(h.shape[1], device=h.device)
    source = torch.minimum(t[None, :] * other[:, None] // lengths[:, None], other[:, None] - 1)
    partner = h[mix.partner].gather(1, source[..., None].expand(-1, -1, h.shape[2]))
    return torch.lerp(partner, h, mix.lam)

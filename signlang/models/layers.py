"""Building blocks shared by the models, written for speed on CPU as well as GPU."""

from __future__ import annotations

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

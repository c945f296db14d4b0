"""What ``conf/optim`` optimizers are built over: the model's parameters in two groups."""

from __future__ import annotations

from typing import Any

from torch import nn


def param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Weight decay on weight matrices only; biases, norms and learned tokens are not decayed."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 and "token" not in name else no_decay).append(p)
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]

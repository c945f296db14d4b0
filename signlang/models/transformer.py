"""SignTransformer: a pre-LN Transformer encoder over per-frame keypoints, with gloss and category heads."""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from signlang.errors import ConfigError
from signlang.models.input_norm import InputNorm

log = logging.getLogger(__name__)

POOLINGS = ("mean", "max", "cls")


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """The fixed sine/cosine position table of "Attention Is All You Need", shape [length, dim]."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table


def masked_pool(h: torch.Tensor, pad_mask: torch.Tensor, how: str) -> torch.Tensor:
    """Mean or max over time of ``h [B,T,D]`` ignoring positions where ``pad_mask`` is True."""
    keep = ~pad_mask[..., None]
    if how == "max":
        return h.masked_fill(~keep, torch.finfo(h.dtype).min).amax(dim=1)
    return (h * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1)


class SignTransformer(nn.Module):
    """Linear projection, sinusoidal positions, a pre-LN ``nn.TransformerEncoder``, pooling, two heads.

    Attention runs through PyTorch's fused ``scaled_dot_product_attention``; padded frames are
    excluded by the key padding mask and by the pooling, so a clip's output does not depend on
    how much padding its batch carries.
    """

    input_kind = "keypoints"

    def __init__(
        self,
        input_dim: int,
        num_gloss: int,
        num_cat: int,
        d_model: int = 256,
        num_layers: int = 4,
        num_heads: int = 8,
        dim_feedforward: int = 1024,
        dropout: float = 0.1,
        pooling: str = "mean",
        max_len: int = 512,
        input_norm: bool = True,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ConfigError(f"model.pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        if d_model % num_heads or d_model % 2:
            raise ConfigError(f"model.d_model ({d_model}) must be even and divisible by model.num_heads ({num_heads})")
        self.pooling = pooling
        # Undetected keypoints are stored as exact zeros: keep them out of the statistics.
        self.input_norm = InputNorm(input_dim, zero_is_missing=True) if input_norm else None
        self.input_proj = nn.Linear(input_dim, d_model)
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model), persistent=False)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model)) if pooling == "cls" else None
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model,
            num_heads,
            dim_feedforward,
            dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.gloss_head = nn.Linear(d_model, num_gloss)
        self.cat_head = nn.Linear(d_model, num_cat)

    def _positions(self, length: int) -> torch.Tensor:
        if length > self.positions.shape[0]:
            # Sinusoids are defined for any length: grow the table instead of failing or truncating.
            log.warning("clip of %d frames is longer than model.max_len=%d; extending the position table", length, self.positions.shape[0])
            self.positions = sinusoidal_positions(length, self.positions.shape[1]).to(self.positions.device)
        return self.positions[:length]

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B,T,input_dim]``, ``pad_mask [B,T]`` (True = padding) -> gloss and category logits."""
        if self.input_norm is not None:
            x = self.input_norm(x)
        h = self.input_proj(x)
        if self.cls_token is not None:
            h = torch.cat([self.cls_token.expand(len(h), -1, -1), h], dim=1)
            pad_mask = torch.cat([pad_mask.new_zeros(len(h), 1), pad_mask], dim=1)
        h = self.dropout(h + self._positions(h.shape[1]).to(h.dtype))
        h = self.encoder(h, src_key_padding_mask=pad_mask)
        pooled = h[:, 0] if self.cls_token is not None else masked_pool(h, pad_mask, self.pooling)
        return self.gloss_head(pooled), self.cat_head(pooled)

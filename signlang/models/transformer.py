"""SignTransformer: a pre-LN Transformer encoder over per-frame keypoints, with gloss and category heads."""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import nn

from signlang.core.errors import ConfigError
from signlang.models.features import KeypointFeatures
from signlang.models.input_norm import InputNorm
from signlang.models.layers import Dropout, Mix, mix_frames

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


def drop_path(branch: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: a residual branch dropped for whole clips with probability ``p`` (the
    rest scaled up), so a deep stack trains as an ensemble of shallower ones."""
    if not training or p == 0.0:
        return branch
    keep = (torch.rand(branch.shape[0], *[1] * (branch.dim() - 1), device=branch.device) >= p).to(branch.dtype)
    return branch * keep / (1.0 - p)


class ConvModule(nn.Module):
    """Pre-LN depthwise temporal convolution (a Conformer's, as the Kaggle ISLR winners used before
    attention): pointwise GLU, a depthwise convolution over ``kernel`` frames, SiLU, pointwise. Padded
    frames are zeroed before the convolution, so a clip's output does not depend on its batch."""

    def __init__(self, d_model: int, kernel: int, dropout: float) -> None:
        super().__init__()
        if kernel % 2 == 0:
            raise ConfigError(f"model.conv_kernel must be odd (a window centred on each frame), got {kernel}")
        self.norm = nn.LayerNorm(d_model)
        self.expand = nn.Linear(d_model, 2 * d_model)
        self.depthwise = nn.Conv1d(d_model, d_model, kernel, padding=kernel // 2, groups=d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.project = nn.Linear(d_model, d_model)
        self.dropout = Dropout(dropout)

    def forward(self, h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``h [B,T,D]``, ``keep [B,T,1]`` 1 for real frames -> the branch to add to ``h``."""
        y = F.glu(self.expand(self.norm(h)), dim=-1) * keep
        y = self.depthwise(y.transpose(1, 2)).transpose(1, 2)
        return self.dropout(self.project(F.silu(self.norm2(y))))


class EncoderLayer(nn.Module):
    """Pre-LN self-attention + GELU feed-forward, attention through ``F.scaled_dot_product_attention``,
    optionally after a depthwise temporal convolution (``conv_kernel``), each branch dropped whole
    with probability ``drop_path``.

    The padding mask goes to SDPA as a broadcast ``[B,1,1,T]`` boolean (never expanded to
    ``[B,H,T,T]``), so the fused kernels apply. Attention-probability dropout is separate
    (``attention_dropout``): on CPU any value above 0 forces SDPA's unfused path (+20% step time).
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        dim_feedforward: int,
        dropout: float,
        attention_dropout: float,
        conv_kernel: int = 0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.drop_path = drop_path
        self.conv = ConvModule(d_model, conv_kernel, dropout) if conv_kernel else None
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff1 = nn.Linear(d_model, dim_feedforward)
        self.ff2 = nn.Linear(dim_feedforward, d_model)
        self.dropout = Dropout(dropout)

    def forward(self, h: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        """``h [B,T,D]``; ``attend [B,1,1,T]`` True for real (non-padding) frames."""
        b, t, d = h.shape
        p_drop = self.drop_path
        if self.conv is not None:
            keep = attend[:, 0, 0, :, None].to(h.dtype)
            h = h + drop_path(self.conv(h, keep), p_drop, self.training)
        q, k, v = self.qkv(self.norm1(h)).view(b, t, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        p = self.attention_dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=attend, dropout_p=p)
        h = h + drop_path(self.dropout(self.out(a.transpose(1, 2).reshape(b, t, d))), p_drop, self.training)
        ff = self.dropout(self.ff2(self.dropout(F.gelu(self.ff1(self.norm2(h))))))
        return h + drop_path(ff, p_drop, self.training)


class SignTransformer(nn.Module):
    """Linear projection, sinusoidal positions, pre-LN encoder layers, pooling, two heads.

    Every setting is a keyword with no default here: ``conf/model/transformer.yaml`` is the one
    place the defaults live (and what the published numbers were measured with).

    Padded frames are excluded by the attention mask and by the pooling, so a clip's output does
    not depend on how much padding its batch carries.
    """

    input_kind = "keypoints"

    def __init__(
        self,
        input_dim: int,
        num_gloss: int,
        num_cat: int,
        *,
        d_model: int,
        num_layers: int,
        num_heads: int,
        dim_feedforward: int,
        dropout: float,
        attention_dropout: float,
        pooling: str,
        max_len: int,
        input_norm: bool,
        hands: bool,
        motion: bool,
        mask_input: bool,
        conv_kernel: int,
        drop_path: float,
        angles: bool,
        head_dropout: float,
        contacts: bool,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ConfigError(f"model.pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        if d_model % num_heads or d_model % 2:
            raise ConfigError(f"model.d_model ({d_model}) must be even and divisible by model.num_heads ({num_heads})")
        self.pooling = pooling
        self.features = KeypointFeatures(input_dim, hands=hands, motion=motion, angles=angles, contacts=contacts)
        # Undetected keypoints are stored as exact zeros: keep them out of the statistics.
        self.input_norm = InputNorm(self.features.dim, zero_is_missing=True) if input_norm else None
        self.mask_input = mask_input
        self.input_proj = nn.Linear(self.features.dim + (input_dim // 2 if mask_input else 0), d_model)
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model), persistent=False)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model)) if pooling == "cls" else None
        self.dropout = Dropout(dropout)
        for name, rate in (("drop_path", drop_path), ("head_dropout", head_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ConfigError(f"model.{name} must be in [0, 1), got {rate}")
        self.layers = nn.ModuleList(  # stochastic depth grows linearly with depth, to drop_path at the top
            EncoderLayer(
                d_model,
                num_heads,
                dim_feedforward,
                dropout,
                attention_dropout,
                conv_kernel,
                drop_path * (i + 1) / num_layers,
            )
            for i in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head_dropout = Dropout(head_dropout)
        self.gloss_head = nn.Linear(d_model, num_gloss)
        self.cat_head = nn.Linear(d_model, num_cat)

    def _positions(self, length: int) -> torch.Tensor:
        if length > self.positions.shape[0]:
            # Sinusoids are defined for any length: grow the table instead of failing or truncating.
            log.warning(
                "clip of %d frames is longer than model.max_len=%d; extending the position table",
                length,
                self.positions.shape[0],
            )
            self.positions = sinusoidal_positions(length, self.positions.shape[1]).to(self.positions.device)
        return self.positions[:length]

    def frame_features(self, x: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        """The per-frame views the encoder reads, before standardisation (what ``InputNorm`` is fitted on)."""
        return self.features(x, pad_mask)

    def forward(
        self, x: torch.Tensor, pad_mask: torch.Tensor, lengths: torch.Tensor | None = None, mix: Mix | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B,T,input_dim]``, ``pad_mask [B,T]`` (True = padding) -> gloss and category logits;
        ``mix`` (training with ``trainer.mixup``) blends clips at the frame embeddings."""
        pooled = self.embed(x, pad_mask, lengths, mix=mix)
        return self.gloss_head(pooled), self.cat_head(pooled)

    def embed(
        self,
        x: torch.Tensor,
        pad_mask: torch.Tensor,
        lengths: torch.Tensor | None = None,
        frames: torch.Tensor | None = None,
        mix: Mix | None = None,
    ) -> torch.Tensor:
        """Each clip as one vector ``[B,d_model]``: what both heads read (and what a clip's distance to
        the training clips is measured in, ``signlang.models.rejection``). ``frames``: this model's
        ``frame_features(x, pad_mask)`` when the caller already has them (an ensemble computes them once)."""
        h = self.encode(x, pad_mask, frames, mix)
        pooled = h[:, 0] if self.cls_token is not None else masked_pool(h, pad_mask, self.pooling)
        return self.head_dropout(pooled)  # in training only: the heads read a thinned clip vector

    def encode(
        self, x: torch.Tensor, pad_mask: torch.Tensor, frames: torch.Tensor | None = None, mix: Mix | None = None
    ) -> torch.Tensor:
        """The encoder's output for every position ``[B,T(+1 with cls pooling),d_model]``, before pooling:
        what masked-frame pre-training reconstructs from (``signlang.training.pretrain``). A ``mix`` blends
        the projected frames (standardised, missing points at 0, so no undetected zero is averaged in as a
        coordinate), before positions: each clip keeps its own time axis and mask."""
        f = self.features(x, pad_mask) if frames is None else frames  # float32, also from float16 storage
        f = self.input_norm(f) if self.input_norm is not None else f
        if self.mask_input:  # the detection mask (1 = detected), after standardisation: it is already 0/1
            f = torch.cat([f, KeypointFeatures.present(x, pad_mask).to(f.dtype)], dim=-1)
        h = self.input_proj(f)
        if mix is not None:
            h = mix_frames(h, pad_mask, mix)
        if self.cls_token is not None:
            h = torch.cat([self.cls_token.expand(len(h), -1, -1).to(h.dtype), h], dim=1)
            pad_mask = torch.cat([pad_mask.new_zeros(len(h), 1), pad_mask], dim=1)
        h = self.dropout(h + self._positions(h.shape[1]).to(h.dtype))
        attend = ~pad_mask[:, None, None, :]
        for layer in self.layers:
            h = layer(h, attend)
        return self.norm(h)

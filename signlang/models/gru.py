"""SignGRU: the seed's recurrent model on keypoints, and the GRU stack it shares with InceptionV3GRU.

The reference's InceptionV3-GRU reads per-frame image features; ``model=gru`` runs the same kind
of GRU stack over keypoint views (``signlang.models.features``), so the Transformer and the GRU
can be compared on the same inputs (``experiment=fsl105_gru``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from signlang.core.errors import ConfigError
from signlang.models.features import KeypointFeatures
from signlang.models.gru_layer import HAND_GRU_MAX_HIDDEN, gru_layer
from signlang.models.input_norm import InputNorm
from signlang.models.layers import Dropout, Mix, mix_frames


def build_grus(width: int, hidden_sizes, bidirectional: bool) -> tuple[nn.ModuleList, int]:
    """One ``nn.GRU`` layer per entry of ``hidden_sizes``; returns them and the width of the last output."""
    hidden_sizes = list(hidden_sizes)
    if not hidden_sizes or min(hidden_sizes) < 1:
        raise ConfigError(f"model.hidden_sizes must list one positive size per GRU layer, got {hidden_sizes}")
    grus = nn.ModuleList()
    for size in hidden_sizes:
        grus.append(nn.GRU(width, size, batch_first=True, bidirectional=bidirectional))
        width = size * (2 if bidirectional else 1)
    return grus, width


def last_states(
    grus: nn.ModuleList, h: torch.Tensor, pad_mask: torch.Tensor, lengths: torch.Tensor | None, dropout: nn.Module
) -> torch.Tensor:
    """Run the stack over ``h [B,T,D]`` and return each clip's state at its own last real frame ``[B,H]``.

    Padding never enters a clip's result: a unidirectional stack runs over the padded batch and
    reads the output at each clip's last frame (padding comes after it, so this equals packing and
    is ~40% faster on CPU); a bidirectional one uses packed sequences. ``dropout`` goes between layers.
    """
    if grus[0].bidirectional:
        lengths = (~pad_mask).sum(dim=1) if lengths is None else lengths
        hidden = None
        for i, gru in enumerate(grus):
            out, hidden = gru(pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False))
            if i + 1 < len(grus):
                h, _ = pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])
                h = dropout(h)
        return torch.cat(list(hidden), dim=-1)  # [directions, B, H] of the last layer, in batch order
    for i, gru in enumerate(grus):
        # CPU and up to 256 units: the hand-written layer (1.1-1.8x faster, gru_layer.py); else nn.GRU
        hand = h.device.type == "cpu" and gru.hidden_size <= HAND_GRU_MAX_HIDDEN
        h = gru_layer(gru, h) if hand else gru(h)[0]
        if i + 1 < len(grus):
            h = dropout(h)
    ends = (~pad_mask).sum(dim=1) - 1  # each clip's last real frame, computed on the device
    return h.gather(1, ends.view(-1, 1, 1).expand(-1, 1, h.shape[-1])).squeeze(1)


class SignGRU(nn.Module):
    """Keypoint views, standardised, through GRU layers; each clip's last state to two heads.
    The defaults live in ``conf/model/gru.yaml`` only."""

    input_kind = "keypoints"

    def __init__(
        self,
        input_dim: int,
        num_gloss: int,
        num_cat: int,
        *,
        hidden_sizes: list[int] | tuple[int, ...],
        bidirectional: bool,
        dropout: float,
        input_norm: bool,
        hands: bool,
        motion: bool,
        angles: bool,
    ) -> None:
        super().__init__()
        self.features = KeypointFeatures(input_dim, hands=hands, motion=motion, angles=angles)
        self.input_norm = InputNorm(self.features.dim, zero_is_missing=True) if input_norm else None
        self.grus, width = build_grus(self.features.dim, hidden_sizes, bidirectional)
        self.dropout = Dropout(dropout)
        self.gloss_head = nn.Linear(width, num_gloss)
        self.cat_head = nn.Linear(width, num_cat)

    def frame_features(self, x: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        """The per-frame views the GRU reads, before standardisation (what ``InputNorm`` is fitted on)."""
        return self.features(x, pad_mask)

    def forward(
        self, x: torch.Tensor, pad_mask: torch.Tensor, lengths: torch.Tensor | None = None, mix: Mix | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B,T,156]``, ``pad_mask [B,T]`` (True = padding) -> gloss and category logits; ``mix``
        (training with ``trainer.mixup``) blends clips at the standardised views."""
        last = self.embed(x, pad_mask, lengths, mix=mix)
        return self.gloss_head(last), self.cat_head(last)

    def embed(
        self,
        x: torch.Tensor,
        pad_mask: torch.Tensor,
        lengths: torch.Tensor | None = None,
        frames: torch.Tensor | None = None,
        mix: Mix | None = None,
    ) -> torch.Tensor:
        """Each clip's last GRU state ``[B,H]``: what both heads read. ``frames``: this model's
        ``frame_features(x, pad_mask)`` when the caller already has them (an ensemble computes them once)."""
        h = self.features(x, pad_mask) if frames is None else frames
        h = self.input_norm(h) if self.input_norm is not None else h
        if mix is not None:
            h = mix_frames(h, pad_mask, mix)
        return self.dropout(last_states(self.grus, h, pad_mask, lengths, self.dropout))

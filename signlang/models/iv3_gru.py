"""InceptionV3GRU: a GRU stack over per-frame InceptionV3 features, with gloss and category heads."""

from __future__ import annotations

import logging

import torch
from torch import nn

from signlang.core.errors import ConfigError
from signlang.core.layout import FRAME_SIZE
from signlang.models.gru import build_grus, last_states
from signlang.models.inception import inception_backbone, inception_input
from signlang.models.input_norm import InputNorm
from signlang.models.layers import Dropout, FeatureDropout, Mix, mix_frames

log = logging.getLogger(__name__)

BACKBONES = (None, "inception_v3")


class InceptionV3GRU(nn.Module):
    """GRU layers (one per entry of ``hidden_sizes``), each clip's state at its last real frame to two heads
    (the stack and how padding is kept out: ``signlang.models.gru``). With
    ``backbone="inception_v3"`` the model takes frames ``[B,T,3,299,299]`` and runs InceptionV3 on
    the real frames first; by default it reads precomputed features. ``input_dropout`` drops whole
    feature channels of a clip. The defaults live in ``conf/model/iv3_gru.yaml`` only.
    """

    input_kind = "features"

    def __init__(
        self,
        input_dim: int,
        num_gloss: int,
        num_cat: int,
        *,
        hidden_sizes: list[int] | tuple[int, ...],
        bidirectional: bool,
        dropout: float,
        input_dropout: float,
        backbone: str | None,
        pretrained: str | bool | None,
        freeze_backbone: bool,
        input_norm: bool,
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ConfigError(f"model.backbone must be null or inception_v3, got {backbone!r}")
        self.backbone = inception_backbone(pretrained) if backbone else None
        self.freeze_backbone = freeze_backbone
        if self.backbone is not None and freeze_backbone:
            self.backbone.requires_grad_(False)
        if self.backbone is not None:
            self.input_kind = "frames"
        # Fitted on precomputed features; with a backbone the features only exist inside the model.
        self.input_norm = InputNorm(input_dim) if input_norm and self.backbone is None else None
        self.input_dropout = FeatureDropout(input_dropout)
        self.grus, width = build_grus(input_dim, hidden_sizes, bidirectional)
        self.dropout = Dropout(dropout)
        self.gloss_head = nn.Linear(width, num_gloss)
        self.cat_head = nn.Linear(width, num_cat)

    def train(self, mode: bool = True) -> InceptionV3GRU:
        super().train(mode)
        if self.backbone is not None and self.freeze_backbone:
            self.backbone.eval()  # frozen: keep batch-norm statistics fixed
        return self

    def _frame_features(self, frames: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        """Run the backbone on real frames only and scatter the features back into ``[B,T,2048]``.

        ``frames`` are ``[B,T,3,299,299]`` floats ready for InceptionV3, or the uint8 RGB frames
        ``data=frames`` stores (``[B,T,299*299*3]``), normalised here."""
        keep = ~pad_mask
        real = frames[keep]
        if real.dtype == torch.uint8:
            real = inception_input(real.view(-1, FRAME_SIZE, FRAME_SIZE, 3))
        feats = self.backbone(real)
        out = feats.new_zeros(*pad_mask.shape, feats.shape[-1])
        out[keep] = feats
        return out

    def forward(
        self, x: torch.Tensor, pad_mask: torch.Tensor, lengths: torch.Tensor | None = None, mix: Mix | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B,T,2048]`` (or frames with a backbone), ``pad_mask [B,T]``, optional host ``lengths`` -> logits;
        ``mix`` (training with ``trainer.mixup``) blends clips at the standardised features."""
        last = self.embed(x, pad_mask, lengths, mix)
        return self.gloss_head(last), self.cat_head(last)

    def embed(
        self, x: torch.Tensor, pad_mask: torch.Tensor, lengths: torch.Tensor | None = None, mix: Mix | None = None
    ) -> torch.Tensor:
        """Each clip's last GRU state ``[B,H]``: what both heads read."""
        if self.backbone is not None:
            x = self._frame_features(x, pad_mask)
        h = self._normalise_and_drop(x)
        if mix is not None:
            h = mix_frames(h, pad_mask, mix)
        return self.dropout(last_states(self.grus, h, pad_mask, lengths, self.dropout))

    def _normalise_and_drop(self, x: torch.Tensor) -> torch.Tensor:
        """Input standardisation and channel dropout as one fused multiply-add over the wide input
        (three passes over ``[B,T,2048]`` become one; also casts float16 storage up)."""
        if self.input_norm is None:
            return self.input_dropout(x.float())
        scale, shift = self.input_norm.affine()
        keep = self.input_dropout.keep(x)
        if keep is not None:
            scale, shift = scale * keep, shift * keep
        # One float32 copy (also of float16 storage), normalised in place: nothing here needs a gradient.
        return x.to(torch.float32, copy=True).mul_(scale).add_(shift)

"""InceptionV3GRU: a GRU stack over per-frame InceptionV3 features, with gloss and category heads."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from signlang.errors import ConfigError
from signlang.models.gru import build_grus, last_states
from signlang.models.input_norm import InputNorm
from signlang.models.layers import Dropout, FeatureDropout

log = logging.getLogger(__name__)

BACKBONES = (None, "inception_v3")
IMAGENET = "imagenet"  # model.pretrained=true: torchvision's Inception_V3_Weights.IMAGENET1K_V1
INCEPTION_SIZE = 299
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def inception_frames(images: torch.Tensor) -> torch.Tensor:
    """RGB images ``[N,H,W,3]`` uint8 -> ``[N,299,299,3]`` uint8, resized with antialiasing (as stored
    by ``data=frames`` and read by :func:`inception_input`)."""
    if tuple(images.shape[1:3]) == (INCEPTION_SIZE, INCEPTION_SIZE):
        return images
    x = torch.nn.functional.interpolate(
        images.permute(0, 3, 1, 2).float(),
        size=(INCEPTION_SIZE, INCEPTION_SIZE),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


def inception_input(images: torch.Tensor) -> torch.Tensor:
    """RGB images ``[N,H,W,3]`` uint8 -> what InceptionV3 reads: ``[N,3,299,299]`` float, ImageNet-normalised."""
    x = inception_frames(images).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def imagenet_weights_file() -> Path:
    """Where torchvision keeps InceptionV3's ImageNet weights once downloaded: torch's hub cache
    (``$TORCH_HOME/hub/checkpoints``, by default ``~/.cache/torch/hub/checkpoints``)."""
    from torchvision.models import Inception_V3_Weights

    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(Inception_V3_Weights.IMAGENET1K_V1.url).path).name


def inception_backbone(pretrained: str | bool | None) -> nn.Module:
    """torchvision's InceptionV3 with the classifier removed: ``[N,3,299,299] -> [N,2048]``.

    ``pretrained``: false for random weights; true (or ``imagenet``) for torchvision's
    ``Inception_V3_Weights.IMAGENET1K_V1``, downloaded once into torch's hub cache as for any
    torchvision user; or a local state-dict file (the same weights saved elsewhere, or your own).
    Pretrained weights take ImageNet-normalised input, re-scaled inside as torchvision does
    (``transform_input``).
    """
    from torchvision.models import Inception_V3_Weights, inception_v3

    if pretrained is True or str(pretrained).lower() in ("true", IMAGENET):
        weights, cached = Inception_V3_Weights.IMAGENET1K_V1, imagenet_weights_file()
        try:
            net = inception_v3(weights=weights)  # from the cache, else downloaded into it
        except OSError as e:
            if cached.is_file():
                raise
            raise ConfigError(
                f"InceptionV3's ImageNet weights are not in torch's cache and could not be downloaded ({e}). "
                f"Download {weights.url} to {cached}, or give a local state dict (--iv3-weights FILE / model.pretrained=FILE)"
            ) from None
        net.aux_logits, net.AuxLogits = False, None  # the training-time side classifier is not needed
    else:
        net = inception_v3(weights=None, aux_logits=False, init_weights=False, transform_input=bool(pretrained))
        if pretrained:
            path = Path(str(pretrained))
            if not path.is_file():
                raise ConfigError(
                    f"InceptionV3 weights not found: {path}. Give a local torchvision inception_v3 state dict, "
                    "true for torchvision's ImageNet weights, or false for random weights"
                )
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = {k: v for k, v in state.items() if not k.startswith(("fc.", "AuxLogits."))}
            missing, unexpected = net.load_state_dict(state, strict=False)
            missing = [k for k in missing if not k.startswith("fc.")]
            if missing or unexpected:
                raise ConfigError(
                    f"{path} is not an inception_v3 state dict (missing {missing[:3]}, unexpected {unexpected[:3]})"
                )
    net.fc = nn.Identity()
    return net


class InceptionV3GRU(nn.Module):
    """GRU layers (one per entry of ``hidden_sizes``), each clip's state at its last real frame to two heads
    (the stack and how padding is kept out: ``signlang.models.gru``). With
    ``backbone="inception_v3"`` the model takes frames ``[B,T,3,299,299]`` and runs InceptionV3 on
    the real frames first; by default it reads precomputed features. ``input_dropout`` drops whole
    feature channels of a clip.
    """

    input_kind = "features"

    def __init__(
        self,
        input_dim: int,
        num_gloss: int,
        num_cat: int,
        hidden_sizes: list[int] | tuple[int, ...] = (512, 256),
        bidirectional: bool = False,
        dropout: float = 0.3,
        input_dropout: float = 0.1,
        backbone: str | None = None,
        pretrained: str | bool | None = False,
        freeze_backbone: bool = True,
        input_norm: bool = True,
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
            real = inception_input(real.view(-1, INCEPTION_SIZE, INCEPTION_SIZE, 3))
        feats = self.backbone(real)
        out = feats.new_zeros(*pad_mask.shape, feats.shape[-1])
        out[keep] = feats
        return out

    def forward(
        self, x: torch.Tensor, pad_mask: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B,T,2048]`` (or frames with a backbone), ``pad_mask [B,T]``, optional host ``lengths`` -> logits."""
        if self.backbone is not None:
            x = self._frame_features(x, pad_mask)
        h = self._normalise_and_drop(x)
        last = last_states(self.grus, h, pad_mask, lengths, self.dropout)
        last = self.dropout(last)
        return self.gloss_head(last), self.cat_head(last)

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

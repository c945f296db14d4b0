"""torchvision's InceptionV3 as a per-frame feature extractor: its weights (ImageNet through torch's
hub cache, a local file, or random) and the input it reads."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from signlang.core.errors import ConfigError
from signlang.core.video import resize_frames

IMAGENET = "imagenet"  # model.pretrained=true: torchvision's Inception_V3_Weights.IMAGENET1K_V1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def inception_input(images: torch.Tensor) -> torch.Tensor:
    """RGB images ``[N,H,W,3]`` uint8 -> what InceptionV3 reads: ``[N,3,299,299]`` float, ImageNet-normalised."""
    x = resize_frames(images).permute(0, 3, 1, 2).float() / 255.0
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
                f"Download {weights.url} to {cached}, or give a local state dict "
                "(--iv3-weights FILE / model.pretrained=FILE)"
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

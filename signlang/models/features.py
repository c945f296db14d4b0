"""What a keypoint model reads from each frame: the body, each hand in its own frame, and motion.

The input is the 78-point layout (``signlang.core.layout``), normalised to the signer's shoulders
by the transform pipeline; undetected points are exact zeros. Three views can be stacked:

- **body**: the 78 points as they are: where the hands are relative to the body and face.
- **hands** (``hands=True``): each hand's 20 finger points relative to its wrist, divided by the
  hand's size (the mean wrist-to-point distance in that frame). This is the hand *shape*, the same
  wherever the hand is and however far from the camera, which is what tells hand-shape neighbours
  apart (numbers, months, fingerspelling). 80 values; zero in frames where the hand is missing.
- **motion** (``motion=True``): the frame-to-frame change of every value above (zero where a
  point is missing in either frame, and at a clip's first frame).

The module has no parameters: the same views come out at training, evaluation and prediction,
and the model's input standardisation (``InputNorm``) is fitted on them.
"""

from __future__ import annotations

import torch
from torch import nn

from signlang.core.errors import ConfigError
from signlang.core.layout import KEYPOINT_DIM, LEFT_HAND, NUM_POINTS, RIGHT_HAND

HAND_LOCAL_DIM = 2 * (len(LEFT_HAND) - 1)  # 20 points (the wrist is the origin) x (x, y)


class KeypointFeatures(nn.Module):
    """``x [B,T,156]``, ``pad_mask [B,T]`` -> per-frame views ``[B,T,dim]`` (see the module docstring)."""

    def __init__(self, input_dim: int = KEYPOINT_DIM, hands: bool = False, motion: bool = False) -> None:
        super().__init__()
        if hands and input_dim != KEYPOINT_DIM:
            raise ConfigError(
                f"model.hands reads keypoints in the {NUM_POINTS}-point layout ({KEYPOINT_DIM} values per frame), "
                f"but the data gives {input_dim}-wide frames: use data=keypoints (or model.hands=false)"
            )
        self.input_dim = input_dim
        self.hands = hands
        self.motion = motion
        static = input_dim + (2 * HAND_LOCAL_DIM if hands else 0)
        self.dim = static * (2 if motion else 1)

    def extra_repr(self) -> str:
        return f"hands={self.hands}, motion={self.motion}, dim={self.dim}"

    @staticmethod
    def present(x: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        """``[B,T,78]`` True where a point was detected (non-zero) in a real frame."""
        b, t, d = x.shape
        return (x.view(b, t, d // 2, 2) != 0).any(-1) & ~pad_mask[..., None]

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if not (self.hands or self.motion):
            return x
        b, t, _ = x.shape
        present = self.present(x, pad_mask)
        views, valid = [x], [present.repeat_interleave(2, dim=-1)]
        if self.hands:
            points = x.view(b, t, NUM_POINTS, 2)
            for hand in (LEFT_HAND, RIGHT_HAND):
                detected = present[:, :, hand.start]  # MediaPipe finds all 21 points of a hand or none
                rel = points[:, :, hand.start + 1 : hand.stop] - points[:, :, hand.start : hand.start + 1]
                size = rel.norm(dim=-1).mean(dim=-1).clamp(min=1e-6)  # [B,T]
                local = rel / size[..., None, None] * detected[..., None, None]
                views.append(local.reshape(b, t, HAND_LOCAL_DIM))
                valid.append(detected[..., None].expand(b, t, HAND_LOCAL_DIM))
        static = torch.cat(views, dim=-1)
        if not self.motion:
            return static
        ok = torch.cat(valid, dim=-1)
        delta = (static[:, 1:] - static[:, :-1]) * (ok[:, 1:] & ok[:, :-1])
        return torch.cat([static, torch.cat([torch.zeros_like(static[:, :1]), delta], dim=1)], dim=-1)

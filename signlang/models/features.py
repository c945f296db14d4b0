"""What a keypoint model reads from each frame: the body, each hand in its own frame, and motion.

The input is the 78-point layout (``signlang.core.layout``), normalised to the signer's shoulders
by the transform pipeline; undetected points are exact zeros. Three views can be stacked:

- **body**: the 78 points as they are: where the hands are relative to the body and face.
- **hands** (``hands=True``): each hand's 20 finger points relative to its wrist, divided by the
  hand's size (the mean wrist-to-point distance in that frame). This is the hand *shape*, the same
  wherever the hand is and however far from the camera, which is what tells hand-shape neighbours
  apart (numbers, months, fingerspelling). 80 values; zero in frames where the hand is missing.
- **angles** (``angles=True``): each hand's shape once more, as numbers that do not change when the
  hand turns in the image plane: the bend at each finger joint (cosine and sine of the signed angle
  between consecutive bones, 5 fingers x 3 joints) and the distances between the five fingertips
  over the hand's size. 80 values; zero where the hand is missing. The hand view above leaves the
  model to learn these from coordinates; FSL-105's persistent errors are pairs of signs that differ
  mostly in hand shape (docs/pages/results.md).
- **contacts** (``contacts=True``): where each hand is relative to the face, the body and the other
  hand, as distances: from each hand's wrist and five fingertips to the nose, eyes, mouth corners and
  shoulders (pose points, found in every dataset here), and between the two hands' six points. Where
  a sign is made (at the chin, on the chest, hand on hand) is half of what tells many signs apart; the
  body view gives the positions, and a distance that is small at a touch is what a linear projection of
  them cannot read. 120 values, in shoulder widths; zero where a hand or anchor is missing.
- **motion** (``motion=True``): the frame-to-frame change of every value above (zero where a
  point is missing in either frame, and at a clip's first frame).

The module has no parameters: the same views come out at training, evaluation and prediction,
and the model's input standardisation (``InputNorm``) is fitted on them.
"""

from __future__ import annotations

import torch
from torch import nn

from signlang.core.errors import ConfigError
from signlang.core.layout import (
    KEYPOINT_DIM,
    LEFT_EYE,
    LEFT_HAND,
    LEFT_SHOULDER,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    NOSE,
    NUM_POINTS,
    RIGHT_EYE,
    RIGHT_HAND,
    RIGHT_SHOULDER,
)

HAND_LOCAL_DIM = 2 * (len(LEFT_HAND) - 1)  # 20 points (the wrist is the origin) x (x, y)
# Each finger as a chain of hand points from the wrist (MediaPipe Hands numbering); its fingertip last.
FINGERS = ((0, 1, 2, 3, 4), (0, 5, 6, 7, 8), (0, 9, 10, 11, 12), (0, 13, 14, 15, 16), (0, 17, 18, 19, 20))
TIPS = tuple(chain[-1] for chain in FINGERS)
JOINTS = sum(len(chain) - 2 for chain in FINGERS)  # 15 joints between two bones
HAND_ANGLE_DIM = 2 * JOINTS + len(TIPS) * (len(TIPS) - 1) // 2  # (cos, sin) per joint + 10 fingertip distances
# The contact view: each hand's wrist and fingertips, and the pose points they are measured to.
CONTACT_POINTS = (0, *TIPS)
ANCHORS = (NOSE, LEFT_EYE, RIGHT_EYE, MOUTH_LEFT, MOUTH_RIGHT, LEFT_SHOULDER, RIGHT_SHOULDER)
CONTACT_DIM = 2 * len(CONTACT_POINTS) * len(ANCHORS) + len(CONTACT_POINTS) ** 2
# The views read both hands, and each finger's bones, by slices (gathers cost most of the time here): the
# hands are consecutive in the layout, each finger is the wrist and then four consecutive points.
HANDS = slice(LEFT_HAND.start, RIGHT_HAND.stop)
assert RIGHT_HAND.start == LEFT_HAND.stop and len(RIGHT_HAND) == len(LEFT_HAND)
assert all(chain == (0, *range(4 * i + 1, 4 * i + 5)) for i, chain in enumerate(FINGERS))


class KeypointFeatures(nn.Module):
    """``x [B,T,156]``, ``pad_mask [B,T]`` -> per-frame views ``[B,T,dim]`` (see the module docstring)."""

    def __init__(
        self,
        input_dim: int = KEYPOINT_DIM,
        hands: bool = False,
        motion: bool = False,
        angles: bool = False,
        contacts: bool = False,
    ) -> None:
        super().__init__()
        for name, on in (("hands", hands), ("angles", angles), ("contacts", contacts)):
            if on and input_dim != KEYPOINT_DIM:
                raise ConfigError(
                    f"model.{name} reads keypoints in the {NUM_POINTS}-point layout ({KEYPOINT_DIM} values per "
                    f"frame), but the data gives {input_dim}-wide frames: use data=keypoints (or model.{name}=false)"
                )
        self.input_dim = input_dim
        self.hands = hands
        self.angles = angles
        self.motion = motion
        self.contacts = contacts
        static = input_dim + (2 * HAND_LOCAL_DIM if hands else 0) + (2 * HAND_ANGLE_DIM if angles else 0)
        static += CONTACT_DIM if contacts else 0
        self.dim = static * (2 if motion else 1)

    def extra_repr(self) -> str:
        return (
            f"hands={self.hands}, angles={self.angles}, contacts={self.contacts}, motion={self.motion}, dim={self.dim}"
        )

    @staticmethod
    def present(x: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        """``[B,T,78]`` True where a point was detected (non-zero) in a real frame."""
        b, t, d = x.shape
        return (x.view(b, t, d // 2, 2) != 0).any(-1) & ~pad_mask[..., None]

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if not (self.hands or self.angles or self.contacts or self.motion):
            return x
        b, t, _ = x.shape
        present = self.present(x, pad_mask)
        views, hand_widths = [x], []  # hand_widths: each hand view's width per hand, in stacking order
        if self.hands or self.angles or self.contacts:
            # Both hands at once, [B,T,2,21,2] (left, right).
            hands = x.view(b, t, NUM_POINTS, 2)[:, :, HANDS].reshape(b, t, 2, len(LEFT_HAND), 2)
            wrists = present[:, :, HANDS.start : HANDS.stop : len(LEFT_HAND)]  # a hand is found whole or not at all
            found = wrists[..., None]  # [B,T,2,1]
            rel = hands[..., 1:, :] - hands[..., :1, :]
            size = rel.norm(dim=-1).mean(dim=-1).clamp(min=1e-6)  # [B,T,2]
            if self.hands:  # stacked as: both hands' shape views, then both hands' angles
                shape = (rel / size[..., None, None]).reshape(b, t, 2, HAND_LOCAL_DIM)
                views.append((shape * found).reshape(b, t, 2 * HAND_LOCAL_DIM))
                hand_widths.append(HAND_LOCAL_DIM)
            if self.angles:
                views.append((self.hand_angles(hands, size) * found).reshape(b, t, 2 * HAND_ANGLE_DIM))
                hand_widths.append(HAND_ANGLE_DIM)
            if self.contacts:
                distances, defined = self.contact_distances(x.view(b, t, NUM_POINTS, 2), hands, present, found)
                views.append(distances)
        static = torch.cat(views, dim=-1)
        if not self.motion:
            return static
        # Where each value is defined (motion is zero elsewhere): its point detected, or its hand found.
        valid = [present.repeat_interleave(2, dim=-1)]
        valid += [found.expand(b, t, 2, w).reshape(b, t, 2 * w) for w in hand_widths]
        valid += [defined] if self.contacts else []
        ok = torch.cat(valid, dim=-1)
        delta = (static[:, 1:] - static[:, :-1]) * (ok[:, 1:] & ok[:, :-1])
        return torch.cat([static, torch.cat([torch.zeros_like(static[:, :1]), delta], dim=1)], dim=-1)

    @staticmethod
    def hand_angles(hand: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
        """``hand [...,21,2]``, ``size [...]`` -> ``[...,40]``: (cos, sin) of each joint's bend, then the
        fingertip distances over ``size``. A joint whose bones have no length reads (0, 0)."""
        lead = hand.shape[:-2]
        # A bone ends at points 1..20 and starts at the point before, or at the wrist for a finger's first.
        start = hand[..., :-1, :].clone().view(*lead, len(FINGERS), -1, 2)
        start[..., 0, :] = hand[..., :1, :]
        bones = hand[..., 1:, :].reshape(*lead, len(FINGERS), -1, 2) - start
        u, v = bones[..., :-1, :], bones[..., 1:, :]  # consecutive bones of each finger
        length = bones.norm(dim=-1)
        lengths = (length[..., :-1] * length[..., 1:]).clamp(min=1e-12)
        cos = (u * v).sum(-1) / lengths
        sin = (u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]) / lengths
        bend = torch.stack([cos, sin], dim=-1).reshape(*lead, 2 * JOINTS)
        tips = hand[..., TIPS[0] :: TIPS[1] - TIPS[0], :]  # [...,5,2]
        # The fingertip pairs in itertools.combinations order: (0,1), (0,2), ..., (3,4).
        pairs = torch.cat([tips[..., i : i + 1, :] - tips[..., i + 1 :, :] for i in range(len(TIPS) - 1)], dim=-2)
        return torch.cat([bend, pairs.norm(dim=-1) / size[..., None]], dim=-1)

    @staticmethod
    def contact_distances(
        points: torch.Tensor, hands: torch.Tensor, present: torch.Tensor, found: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``points [B,T,78,2]``, both ``hands [B,T,2,21,2]``, ``present [B,T,78]``, ``found [B,T,2,1]`` ->
        the contact view ``[B,T,CONTACT_DIM]`` (zero where undefined) and where it is defined: for each
        hand, in order, its points' distances to every anchor, then the distances between the hands'
        points (left point-major)."""
        b, t = points.shape[:2]
        tips = hands[..., CONTACT_POINTS, :]  # [B,T,2,6,2]
        anchors = points[:, :, ANCHORS]  # [B,T,7,2]
        to_body = (tips[..., :, None, :] - anchors[:, :, None, None]).norm(dim=-1)  # [B,T,2,6,7]
        body_ok = found[..., None] & present[:, :, None, None, ANCHORS]  # [B,T,2,1,7]
        between = (tips[:, :, 0, :, None] - tips[:, :, 1, None, :]).norm(dim=-1)  # [B,T,6,6]
        both = found[:, :, 0] & found[:, :, 1]  # [B,T,1]
        body_ok = body_ok.expand_as(to_body)
        values = torch.cat([(to_body * body_ok).reshape(b, t, -1), between.reshape(b, t, -1) * both], dim=-1)
        defined = torch.cat([body_ok.reshape(b, t, -1), both.expand(b, t, len(CONTACT_POINTS) ** 2)], dim=-1)
        return values, defined

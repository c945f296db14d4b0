"""Keypoint views: hand shape is independent of where the hand is and how large it appears; motion
and missing points stay zero where they should."""

from __future__ import annotations

import torch

from signlang.core.layout import LEFT_HAND, RIGHT_HAND
from signlang.models.features import HAND_LOCAL_DIM, KeypointFeatures


def clip(steps: int = 6, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, steps, 78, 2, generator=g) + 0.1  # every point detected (non-zero)


def hand_views(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    left = f[..., 156 : 156 + HAND_LOCAL_DIM]
    return left, f[..., 156 + HAND_LOCAL_DIM : 156 + 2 * HAND_LOCAL_DIM]


def test_widths():
    assert KeypointFeatures().dim == 156
    assert KeypointFeatures(hands=True).dim == 156 + 80
    assert KeypointFeatures(hands=True, motion=True).dim == 2 * (156 + 80)


def test_hand_shape_ignores_position_and_size_of_the_hand():
    points = clip()
    moved = points.clone()
    moved[:, :, LEFT_HAND.start : LEFT_HAND.stop] = points[:, :, LEFT_HAND.start : LEFT_HAND.stop] * 2.5 + 0.3
    pad = torch.zeros(1, 6, dtype=torch.bool)
    views = KeypointFeatures(hands=True)
    a, b = views(points.view(1, 6, -1), pad), views(moved.view(1, 6, -1), pad)
    torch.testing.assert_close(hand_views(a)[0], hand_views(b)[0])
    assert not torch.allclose(a[..., :156], b[..., :156])  # the body view sees the move
    assert torch.allclose(hand_views(a)[0].view(1, 6, 20, 2).norm(dim=-1).mean(-1), torch.ones(1, 6))  # unit size


def test_missing_hands_and_padding_give_zero_views_and_zero_motion():
    points = clip()
    points[:, 2, RIGHT_HAND.start : RIGHT_HAND.stop] = 0  # the right hand lost in frame 2
    pad = torch.tensor([[False, False, False, False, True, True]])
    points[:, 4:] = 0
    f = KeypointFeatures(hands=True, motion=True)(points.view(1, 6, -1), pad)
    static, motion = f[..., : 156 + 80], f[..., 156 + 80 :]
    right = hand_views(static)[1]
    assert not right[0, 2].any() and right[0, 1].any()
    assert not motion[0, 0].any()  # the first frame has no motion
    right_motion = hand_views(motion)[1]
    assert not right_motion[0, 2].any() and not right_motion[0, 3].any() and right_motion[0, 1].any()
    assert not f[0, 4:].any()  # padding

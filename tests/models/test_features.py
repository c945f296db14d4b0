"""Keypoint views: hand shape is independent of where the hand is and how large it appears, joint
angles also of how it is turned; motion and missing points stay zero where they should."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from signlang.core.errors import ConfigError
from signlang.core.layout import LEFT_HAND, RIGHT_HAND
from signlang.models.features import (
    ANCHORS,
    CONTACT_DIM,
    CONTACT_POINTS,
    FINGERS,
    HAND_ANGLE_DIM,
    HAND_LOCAL_DIM,
    TIPS,
    KeypointFeatures,
)


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
    assert HAND_ANGLE_DIM == 40  # 15 joints x (cos, sin) + 10 fingertip pairs, per hand
    assert KeypointFeatures(angles=True).dim == 156 + 80
    assert KeypointFeatures(hands=True, angles=True, motion=True).dim == 2 * (156 + 80 + 80)
    with pytest.raises(ConfigError, match="model.angles"):
        KeypointFeatures(2048, angles=True)
    assert CONTACT_DIM == 2 * 6 * 7 + 6 * 6  # each hand's wrist and tips to 7 anchors, then hand to hand
    assert KeypointFeatures(hands=True, angles=True, contacts=True).dim == 156 + 80 + 80 + CONTACT_DIM
    with pytest.raises(ConfigError, match="model.contacts"):
        KeypointFeatures(2048, contacts=True)


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


def angle_views(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two hands' angle views of a ``KeypointFeatures(angles=True)`` output (no hand view)."""
    return f[..., 156 : 156 + HAND_ANGLE_DIM], f[..., 156 + HAND_ANGLE_DIM : 156 + 2 * HAND_ANGLE_DIM]


def test_joint_angles_ignore_turning_moving_and_scaling_the_hand():
    points = clip()
    left = points[:, :, LEFT_HAND.start : LEFT_HAND.stop]
    turn = torch.tensor([[math.cos(0.8), -math.sin(0.8)], [math.sin(0.8), math.cos(0.8)]])
    moved = points.clone()
    moved[:, :, LEFT_HAND.start : LEFT_HAND.stop] = (left - left[:, :, :1]) @ turn.T * 1.7 + left[:, :, :1] + 0.2
    pad = torch.zeros(1, 6, dtype=torch.bool)
    views = KeypointFeatures(angles=True)
    a, b = views(points.view(1, 6, -1), pad), views(moved.view(1, 6, -1), pad)
    torch.testing.assert_close(angle_views(a)[0], angle_views(b)[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(angle_views(a)[1], angle_views(b)[1])  # the right hand did not move
    hand = KeypointFeatures(hands=True)
    assert not torch.allclose(hand(points.view(1, 6, -1), pad), hand(moved.view(1, 6, -1), pad))  # that view sees it


def test_joint_angles_of_a_known_hand():
    """Each finger a straight ray from the wrist, except the index finger bent by 90 degrees at its
    middle joint: that joint reads (cos, sin) = (0, 1), every other (1, 0); fingertip distances are
    in units of the hand's size."""
    hand = torch.zeros(21, 2)
    for f, start in enumerate((1, 5, 9, 13, 17)):
        ray = torch.tensor([math.cos(0.3 * f), math.sin(0.3 * f)])
        for k in range(4):
            hand[start + k] = (k + 1) * ray
    turned = torch.tensor([-math.sin(0.3), math.cos(0.3)])  # the index ray turned by +90 degrees
    hand[7], hand[8] = hand[6] + turned, hand[6] + 2 * turned
    points = torch.full((1, 1, 78, 2), 0.5)
    points[0, 0, RIGHT_HAND.start : RIGHT_HAND.stop] = hand + 1.0
    f = KeypointFeatures(angles=True)(points.view(1, 1, -1), torch.zeros(1, 1, dtype=torch.bool))
    right = angle_views(f)[1][0, 0]
    expected = torch.tensor([1.0, 0.0]).repeat(5, 3, 1)  # finger, joint, (cos, sin)
    expected[1, 1] = torch.tensor([0.0, 1.0])  # index, between bones 5 -> 6 and 6 -> 7
    torch.testing.assert_close(right[:30].view(5, 3, 2), expected, atol=1e-6, rtol=0)
    size = (hand[1:] - hand[:1]).norm(dim=-1).mean()
    torch.testing.assert_close(right[30 + 1], (hand[4] - hand[12]).norm() / size)  # pairs (4,8), (4,12), ...
    assert not angle_views(f)[0].any()  # the left hand's points coincide: bones of no length read (0, 0)


def test_a_missing_hand_gives_zero_angles_and_zero_angle_motion():
    points = clip()
    points[:, 3, LEFT_HAND.start : LEFT_HAND.stop] = 0
    f = KeypointFeatures(angles=True, motion=True)(points.view(1, 6, -1), torch.zeros(1, 6, dtype=torch.bool))
    static, motion = f[..., : 156 + 80], f[..., 156 + 80 :]
    assert not angle_views(static)[0][0, 3].any() and angle_views(static)[0][0, 2].any()
    assert not angle_views(motion)[0][0, 3:5].any() and angle_views(motion)[0][0, 2].any()
    assert torch.isfinite(f).all()


def reference_hand_views(hand: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One frame's hand ``[21,2]`` written out joint by joint: its shape view (40) and angle view (40)."""
    rel = hand[1:] - hand[0]
    size = rel.norm(dim=-1).mean()
    bends = []
    for chain in FINGERS:
        for a, b, c in zip(chain, chain[1:], chain[2:]):
            u, v = hand[b] - hand[a], hand[c] - hand[b]
            n = u.norm() * v.norm()
            bends += [(u @ v) / n, (u[0] * v[1] - u[1] * v[0]) / n]
    tips = [(hand[i] - hand[j]).norm() / size for i, j in itertools.combinations(TIPS, 2)]
    return (rel / size).reshape(-1), torch.stack(bends + tips)


def test_both_hands_views_match_the_definition_point_by_point():
    points = clip(steps=4, seed=3)
    points[:, 1, LEFT_HAND.start : LEFT_HAND.stop] = 0  # the left hand lost in frame 1
    f = KeypointFeatures(hands=True, angles=True)(points.view(1, 4, -1), torch.zeros(1, 4, dtype=torch.bool))
    torch.testing.assert_close(f[0, :, :156], points.view(4, 156))
    for t in range(4):
        views = [reference_hand_views(points[0, t, hand.start : hand.stop]) for hand in (LEFT_HAND, RIGHT_HAND)]
        if t == 1:
            views[0] = tuple(torch.zeros(40) for _ in range(2))
        expected = torch.cat([views[0][0], views[1][0], views[0][1], views[1][1]])  # shapes, then angles
        torch.testing.assert_close(f[0, t, 156:], expected, atol=1e-5, rtol=1e-5)


def reference_contacts(frame: torch.Tensor, left_found: bool = True) -> torch.Tensor:
    """One frame's contact view ``[78,2] -> [120]`` written out distance by distance."""
    values = []
    for hand, found in ((LEFT_HAND, left_found), (RIGHT_HAND, True)):
        for c in CONTACT_POINTS:
            values += [(frame[hand.start + c] - frame[a]).norm() * found for a in ANCHORS]
    for c in CONTACT_POINTS:
        values += [
            (frame[LEFT_HAND.start + c] - frame[RIGHT_HAND.start + d]).norm() * left_found for d in CONTACT_POINTS
        ]
    return torch.stack(values)


def test_contacts_match_the_definition_and_are_zero_where_a_hand_is_missing():
    points = clip(steps=3, seed=5)
    points[:, 1, LEFT_HAND.start : LEFT_HAND.stop] = 0  # the left hand lost in frame 1
    f = KeypointFeatures(hands=True, angles=True, contacts=True, motion=True)(
        points.view(1, 3, -1), torch.zeros(1, 3, dtype=torch.bool)
    )
    width = 156 + 80 + 80 + CONTACT_DIM
    static, motion = f[0, :, :width], f[0, :, width:]
    for t in range(3):
        torch.testing.assert_close(static[t, -CONTACT_DIM:], reference_contacts(points[0, t], left_found=t != 1))
    left_rows = slice(width - CONTACT_DIM, width - CONTACT_DIM + 42)  # the left hand's 42 distances
    assert not static[1, left_rows].any() and static[1, -CONTACT_DIM + 42 : -36].all()  # the right hand's stay
    assert not motion[1:, left_rows].any() and not motion[1:, -36:].any()  # no motion into or out of frame 1
    assert motion[1:, -CONTACT_DIM + 42 : -36].any()


def test_contacts_ignore_where_the_signer_stands_and_see_a_touch():
    points = clip(steps=2, seed=6)
    views = KeypointFeatures(contacts=True)
    pad = torch.zeros(1, 2, dtype=torch.bool)
    a, b = views(points.view(1, 2, -1), pad), views((points + 0.4).view(1, 2, -1), pad)
    torch.testing.assert_close(a[..., 156:], b[..., 156:])
    touching = points.clone()
    touching[0, 0, RIGHT_HAND.start + 8] = touching[0, 0, ANCHORS[0]]  # the right index fingertip on the nose
    c = views(touching.view(1, 2, -1), pad)[0, 0, 156:]
    assert c[42 + CONTACT_POINTS.index(8) * len(ANCHORS)] == 0

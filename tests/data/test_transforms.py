"""Each transform keeps shapes, masks and dtype, repeats under a seed; flip is an involution and
normalisation ignores where the signer stands and how large they appear."""

from __future__ import annotations

import pytest
import torch
from conftest import CONF, compose_config, tiny_synthetic
from hydra.utils import instantiate
from omegaconf import OmegaConf

from signlang.core.errors import ConfigError
from signlang.core.layout import LEFT_HAND, LEFT_SHOULDER, LEFT_WRIST, MIRROR, RIGHT_HAND, RIGHT_SHOULDER, RIGHT_WRIST
from signlang.data.loader import make_loader
from signlang.data.transforms import (
    Clip,
    Flip,
    FrameDropout,
    GaussianNoise,
    MirrorLeftHanded,
    Pipeline,
    PointDropout,
    RandomAffine,
    RandomCrop,
    RandomLimbs,
    ShoulderNormalize,
    Speed,
    TimeMask,
    TrimToHands,
)
from signlang.models.features import KeypointFeatures

KEYPOINT_TRANSFORMS = [
    ShoulderNormalize(),
    Flip(p=1.0),
    RandomAffine(),
    RandomLimbs(p=1.0),
    Speed(),
    RandomCrop(0.5),
    FrameDropout(0.3),
    PointDropout(0.2, 0.5),
    GaussianNoise(0.02),
]
TEMPORAL = (Speed, RandomCrop, FrameDropout)


def keypoint_clip(seed: int = 0, steps: int = 30) -> Clip:
    data = tiny_synthetic(min_len=steps, max_len=steps, occlusion_rate=1.0, seed=seed)
    data.setup()
    train = data.split("train")
    return Clip(torch.from_numpy(train.clip(0).copy()), torch.from_numpy(train.point_mask[:steps].copy()))


def check_consistent(clip: Clip) -> None:
    assert clip.x.dtype == torch.float32 and clip.x.shape[1] == 156
    assert clip.mask.shape == (len(clip.x), 78) and clip.mask.dtype == torch.bool
    points = clip.x.view(len(clip.x), 78, 2)
    assert torch.all(points[~clip.mask] == 0)  # missing points are exact zeros
    assert torch.all((points[clip.mask] != 0).any(-1))


@pytest.mark.parametrize("transform", KEYPOINT_TRANSFORMS, ids=lambda t: type(t).__name__)
def test_keypoint_transforms_keep_shapes_masks_and_dtype_and_repeat_under_a_seed(transform):
    clip = keypoint_clip()
    assert not clip.mask.all()  # the clip really has missing points
    a = transform(clip, torch.Generator().manual_seed(3))
    b = transform(clip, torch.Generator().manual_seed(3))
    check_consistent(a)
    assert torch.equal(a.x, b.x) and torch.equal(a.mask, b.mask)
    if not isinstance(transform, TEMPORAL):
        assert a.x.shape == clip.x.shape
    assert len(a.x) >= 1
    assert not same(a, clip), "the transform left the clip as it was"
    if not isinstance(transform, (ShoulderNormalize, Flip)):  # the random ones depend on the seed
        assert not same(transform(clip, torch.Generator().manual_seed(4)), a)


def same(a: Clip, b: Clip) -> bool:
    return a.x.shape == b.x.shape and torch.equal(a.x, b.x)


def test_flip_is_an_involution_and_swaps_the_hands():
    clip = keypoint_clip()
    once = Flip(p=1.0)(clip, None)
    twice = Flip(p=1.0)(once, None)
    torch.testing.assert_close(twice.x, clip.x)
    assert torch.equal(twice.mask, clip.mask)
    left, right = slice(LEFT_HAND.start, LEFT_HAND.stop), slice(RIGHT_HAND.start, RIGHT_HAND.stop)
    assert torch.equal(once.mask[:, left], clip.mask[:, right])
    perm = torch.as_tensor(MIRROR)
    assert torch.equal(perm[perm], torch.arange(78))
    # the mirrored signer's right shoulder is where the left one was, mirrored
    centre = clip.points[..., 0][clip.present()].mean()
    torch.testing.assert_close(once.points[:, RIGHT_SHOULDER, 0], 2 * centre - clip.points[:, LEFT_SHOULDER, 0])


def test_normalisation_ignores_translation_and_scale():
    clip = keypoint_clip()
    present = clip.present()
    moved = Clip(
        ((clip.points * 1.7 + torch.tensor([0.3, -0.2])) * present[..., None]).reshape(len(clip.x), -1), clip.mask
    )
    a, b = ShoulderNormalize()(clip), ShoulderNormalize()(moved)
    torch.testing.assert_close(a.x, b.x, atol=1e-5, rtol=1e-4)
    left, right = a.points[:, LEFT_SHOULDER], a.points[:, RIGHT_SHOULDER]
    assert (left - right).norm(dim=-1).mean() == pytest.approx(1.0, abs=1e-5)  # unit shoulder width
    assert ((left + right) / 2).mean(0).abs().max() < 1e-5  # centred


def test_normalisation_without_shoulders_falls_back_and_skips_empty_clips():
    clip = keypoint_clip()
    mask = clip.mask.clone()
    mask[:, [LEFT_SHOULDER, RIGHT_SHOULDER]] = False
    no_shoulders = Clip((clip.points * mask[..., None]).reshape(len(clip.x), -1), mask)
    out = ShoulderNormalize()(no_shoulders)
    check_consistent(out)
    assert out.points[out.mask].abs().max() < 10
    empty = Clip(torch.zeros(5, 156), torch.zeros(5, 78, dtype=torch.bool))
    assert torch.equal(ShoulderNormalize()(empty).x, empty.x)


@pytest.mark.parametrize(
    "transform", [Speed(), TimeMask(3, 0.2), GaussianNoise(0.1), RandomCrop()], ids=lambda t: type(t).__name__
)
def test_feature_transforms(transform):
    clip = Clip(torch.rand(40, 2048), None)
    a = transform(clip, torch.Generator().manual_seed(1))
    b = transform(clip, torch.Generator().manual_seed(1))
    assert a.x.dtype == torch.float32 and a.x.shape[1] == 2048 and a.mask is None
    assert torch.equal(a.x, b.x)
    assert not same(a, clip) and not same(transform(clip, torch.Generator().manual_seed(2)), a)


def test_pipeline_pads_batches_again_and_only_augments_training_batches():
    data = tiny_synthetic()
    data.setup()
    pipe = instantiate(OmegaConf.load(CONF / "transform" / "keypoints.yaml"))
    assert isinstance(pipe, Pipeline) and pipe.normalize and pipe.augment
    batch = data.split("train").batch(list(range(8)))
    evaluated = pipe(batch)
    assert torch.equal(evaluated.lengths, batch.lengths)  # normalisation only
    trained = pipe(batch, torch.Generator().manual_seed(0), train=True)
    assert torch.equal(trained.pad_mask, torch.arange(trained.x.shape[1])[None] >= trained.lengths[:, None])
    for i, n in enumerate(trained.lengths.tolist()):
        assert not trained.x[i, n:].any() and not trained.point_mask[i, n:].any()
    assert torch.equal(trained.gloss, batch.gloss) and torch.equal(trained.index, batch.index)


def test_augmented_batches_repeat_whatever_the_number_of_workers():
    data = tiny_synthetic()
    data.setup()
    pipe = instantiate(OmegaConf.load(CONF / "transform" / "keypoints.yaml"))
    runs = []
    for workers in (0, 1):
        loader = make_loader(
            data.split("train"), 8, shuffle=True, seed=5, num_workers=workers, transform=pipe, bucket=True
        )
        loader.batch_sampler.set_epoch(2)
        runs.append([b.x for b in loader])
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_trim_keeps_the_hand_frames_and_a_margin():
    clip = keypoint_clip(steps=40)
    mask = clip.mask.clone()
    mask[:, LEFT_HAND.start : RIGHT_HAND.stop] = False
    mask[10:20, RIGHT_HAND.start : RIGHT_HAND.stop] = True  # a hand in frames 10-19 only
    x = clip.x.view(40, 78, 2) * mask[..., None]
    trimmed = TrimToHands(margin=0.05)(Clip(x.reshape(40, -1), mask))  # 2 frames either side
    assert torch.equal(trimmed.x, x.reshape(40, -1)[8:22]) and torch.equal(trimmed.mask, mask[8:22])
    no_hands = mask.clone()
    no_hands[:, LEFT_HAND.start : RIGHT_HAND.stop] = False
    assert len(TrimToHands()(Clip(x.reshape(40, -1) * 0 + clip.x, no_hands)).x) == 40  # never a hand: kept whole
    features = Clip(torch.randn(40, 2048), None)
    assert TrimToHands()(features) is features


def test_prepare_normalises_once_and_matches_per_batch_normalisation():
    data = tiny_synthetic()
    data.setup()
    clips = data.split("train")
    for i in range(0, len(clips), 2):  # every other clip starts with two frames without hands
        start = clips.offsets[i]
        hands = slice(LEFT_HAND.start, RIGHT_HAND.stop)
        clips.mask_buffer[start : start + 2, hands] = False
        clips.buffer[start : start + 2].reshape(2, 78, 2)[:, hands] = 0
    pipe = Pipeline(normalize={"shoulders": ShoulderNormalize(), "trim": TrimToHands(0.0)}, augment=None)
    prepared = pipe.prepare(clips)
    assert prepared.normalized and pipe.prepare(prepared) is prepared
    assert prepared.names == clips.names and (prepared.lengths <= clips.lengths).all()
    assert (prepared.lengths[::2] == clips.lengths[::2] - 2).all()
    per_batch = pipe(clips.batch(list(range(len(clips)))))
    once = prepared.batch(list(range(len(clips))))
    assert torch.equal(per_batch.lengths, once.lengths) and torch.equal(per_batch.x, once.x)
    # batches of a prepared split are not normalised again, and are still augmented for training
    loader = make_loader(prepared, 8, shuffle=False, transform=pipe)
    assert torch.equal(next(iter(loader)).x, prepared.batch(next(iter(loader.batch_sampler))).x)


def test_steps_are_named_and_can_be_dropped_or_switched_off():
    cfg = OmegaConf.load(CONF / "transform" / "keypoints.yaml")
    assert list(cfg.augment) == ["flip", "limbs", "affine", "speed", "crop", "frame_dropout", "point_dropout", "noise"]
    del cfg.augment["speed"]
    cfg.normalize.trim = None
    pipe = instantiate(cfg)
    assert [type(t).__name__ for t in pipe.normalize] == ["ShoulderNormalize"]
    assert "Speed" not in [type(t).__name__ for t in pipe.augment]
    cfg.augment = None
    assert instantiate(cfg).augment == []


def test_random_limbs_change_arm_lengths_and_hand_size_not_hand_shape_or_the_rest():
    clip = keypoint_clip(seed=2)
    out = RandomLimbs(limb=0.3, hand=0.3, hand_rotate=30.0, p=1.0)(clip, torch.Generator().manual_seed(0))
    p, q = clip.points, out.points
    arm = {11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, *LEFT_HAND, *RIGHT_HAND}
    rest = [i for i in range(78) if i not in arm]
    assert torch.equal(p[:, rest], q[:, rest]) and torch.equal(p[:, [11, 12]], q[:, [11, 12]])  # shoulders stay
    assert torch.equal(out.mask, clip.mask)
    both = clip.mask[:, 11] & clip.mask[:, 13]
    u, v = q[both, 13] - p[both, 11], p[both, 13] - p[both, 11]
    torch.testing.assert_close(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0], torch.zeros(int(both.sum())), atol=1e-5, rtol=0)
    assert not torch.allclose(u.norm(dim=-1), v.norm(dim=-1))  # the upper arm changed length along itself
    pad = torch.zeros(1, len(p), dtype=torch.bool)
    angles = KeypointFeatures(angles=True)
    torch.testing.assert_close(  # joint bends and fingertip distances over hand size: the same hand shape
        angles(clip.x[None], pad)[..., 156:], angles(out.x[None], pad)[..., 156:], atol=1e-4, rtol=1e-4
    )


def test_random_limbs_switched_off_draw_no_random_number():
    clip, g = keypoint_clip(), torch.Generator().manual_seed(1)
    state = g.get_state()
    assert RandomLimbs(p=0.0)(clip, g) is clip
    assert torch.equal(g.get_state(), state)


def test_a_left_handed_clip_is_mirrored_to_a_right_handed_one_and_nothing_else_is():
    clip = keypoint_clip(steps=20)
    points, present = clip.points.clone(), clip.present().clone()
    present[:, [LEFT_WRIST, RIGHT_WRIST]] = True
    still = points[0, [LEFT_WRIST, RIGHT_WRIST]].clone()
    wave = torch.stack([torch.linspace(0.2, 0.8, 20), torch.full((20,), 0.4)], dim=-1)

    def signed_by(left: float, right: float) -> Clip:
        p = points.clone()
        p[:, LEFT_WRIST] = still[0] + left * (wave - wave[0])
        p[:, RIGHT_WRIST] = still[1] + right * (wave - wave[0])
        return clip.with_points(p, present)

    step = MirrorLeftHanded(ratio=1.5)
    left_handed = signed_by(left=1.0, right=0.2)
    mirrored = step(left_handed)
    assert same(mirrored, Flip(p=1.0)(left_handed, None))
    check_consistent(mirrored)
    assert same(step(mirrored), mirrored)  # now right-handed: a second pass leaves it
    for right_or_both in (signed_by(0.2, 1.0), signed_by(1.0, 0.8)):  # right-handed, and both hands alike
        assert same(step(right_or_both), right_or_both)
    features = Clip(torch.rand(5, 2048), None)
    assert step(features) is features
    with pytest.raises(ConfigError, match="MirrorLeftHanded ratio"):
        MirrorLeftHanded(ratio=0.5)


def test_mirroring_left_handed_signers_is_one_override_after_the_keypoint_normalisation():
    cfg = compose_config(
        "data=keypoints", "+transform.normalize.handed._target_=signlang.data.transforms.MirrorLeftHanded"
    )
    pipe = instantiate(cfg.transform)
    assert [type(t).__name__ for t in pipe.normalize] == ["ShoulderNormalize", "TrimToHands", "MirrorLeftHanded"]

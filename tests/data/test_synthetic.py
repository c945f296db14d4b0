"""The synthetic generator: deterministic, varied, with occlusions, and the same clips on disk."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_synthetic

from signlang.core.errors import ConfigError
from signlang.core.layout import RIGHT_HAND
from signlang.data.npz import load_split


def splits(data):
    data.setup()
    return {name: data.split(name) for name in ("train", "val", "test")}


def test_deterministic_per_seed_and_different_across_seeds():
    a, b, c = splits(tiny_synthetic(seed=1)), splits(tiny_synthetic(seed=1)), splits(tiny_synthetic(seed=2))
    np.testing.assert_array_equal(a["train"].x, b["train"].x)
    np.testing.assert_array_equal(a["val"].offsets, b["val"].offsets)
    assert a["train"].x.shape != c["train"].x.shape or not np.array_equal(a["train"].x, c["train"].x)


def test_shapes_lengths_and_labels():
    data = tiny_synthetic(train_per_gloss=10, min_len=5, max_len=30)
    s = splits(data)
    train = s["train"]
    assert train.width == 156 and train.point_mask.shape == (len(train.x), 78)
    assert train.lengths.min() >= 5 and train.lengths.max() <= 30 and len(set(train.lengths)) > 5
    assert np.bincount(train.gloss).tolist() == [10] * 6
    assert len(s["val"]) == 12 and len(s["test"]) == 12
    assert data.gloss_names[0] == "gloss_00" and len(data.cat_names) == 2


def test_categories_group_glosses():
    train = splits(tiny_synthetic(num_gloss=8, num_cat=4))["train"]
    for g in range(8):
        assert set(train.cat[train.gloss == g]) == {g * 4 // 8}


def test_occluded_clips_lose_the_hand_as_zeros_with_mask_false():
    train = splits(tiny_synthetic(train_per_gloss=20, occlusion_rate=0.5))["train"]
    assert 0.2 < train.occluded.mean() < 0.8
    hand = slice(RIGHT_HAND.start, RIGHT_HAND.stop)
    for i in range(len(train)):
        frames = slice(train.offsets[i], train.offsets[i + 1])
        hidden = ~train.point_mask[frames, hand]
        assert hidden.any() == bool(train.occluded[i])
        coords = train.x[frames].reshape(-1, 78, 2)[:, hand]
        assert np.all(coords[hidden] == 0)
        assert np.all(coords[~hidden] != 0)


def test_features_match_the_keypoint_clips():
    kp, feats = splits(tiny_synthetic("keypoints"))["train"], splits(tiny_synthetic("features"))["train"]
    assert feats.width == 2048 and feats.point_mask is None
    np.testing.assert_array_equal(kp.lengths, feats.lengths)
    np.testing.assert_array_equal(kp.gloss, feats.gloss)
    assert feats.x.min() >= 0 and feats.x.std() > 0.1


def test_export_writes_the_seed_layout(tmp_path):
    data = tiny_synthetic()
    root = data.export(tmp_path)
    assert sorted(p.name for p in root.iterdir()) == [
        "keypoints_test",
        "keypoints_train",
        "keypoints_val",
        "test_labels.csv",
        "train_labels.csv",
        "val_labels.csv",
    ]
    loaded = load_split(
        root / "keypoints_train", root / "train_labels.csv", kind="keypoints", key="X", num_gloss=6, num_cat=2
    )
    np.testing.assert_array_equal(loaded.x, splits(data)["train"].x)


def test_invalid_sizes_are_config_errors():
    with pytest.raises(ConfigError, match="num_cat"):
        tiny_synthetic(num_gloss=2, num_cat=3)
    with pytest.raises(ConfigError, match="min_len"):
        tiny_synthetic(min_len=10, max_len=5)

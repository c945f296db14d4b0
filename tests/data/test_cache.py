"""data.cache=memory|mmap|none give identical batches; the mmap cache is reused and invalidated correctly."""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import pytest
import torch

from signlang.data.cache import LazyClipSet, npz_length
from signlang.data.npz import load_split


def load(root, cache, kind="keypoints", **kw):
    key = "X" if kind == "keypoints" else "X2048"
    return load_split(
        root / "keypoints_train",
        root / "train_labels.csv",
        kind=kind,
        key=key,
        num_gloss=6,
        num_cat=2,
        cache=cache,
        cache_dir=str(root / "cache"),
        **kw,
    )


def same_batches(a, b, indices=([0, 5, 3], [7], list(range(24)))):
    for idx in indices:
        x, y = a.batch(idx).to("cpu"), b.batch(idx).to("cpu")
        for field in ("x", "pad_mask", "lengths", "gloss", "cat", "occluded", "index", "point_mask"):
            u, v = getattr(x, field), getattr(y, field)
            assert (u is None) == (v is None), field
            if u is not None:
                assert torch.equal(u, v), field


@pytest.mark.parametrize("kind", ["keypoints", "features"])
def test_all_cache_modes_give_identical_batches(npz_root, kind):
    memory, mmap, none = (load(npz_root, c, kind) for c in ("memory", "mmap", "none"))
    assert isinstance(mmap.buffer, np.memmap) and isinstance(none, LazyClipSet)
    same_batches(memory, mmap)
    same_batches(memory, none)
    assert [c.shape for c in memory.chunks(7)] == [(7, memory.width)] * (len(memory.x) // 7) + (
        [(len(memory.x) % 7, memory.width)] if len(memory.x) % 7 else []
    )


def test_float16_features_are_half_the_size_and_close(npz_root):
    full = load(npz_root, "memory", "features")
    half = load(npz_root, "memory", "features", dtype=np.float16)
    assert half.buffer.dtype == np.float16 and half.nbytes < 0.55 * full.nbytes
    a, b = full.batch([1, 2]).x, half.batch([1, 2]).x
    assert b.dtype == torch.float16 and torch.allclose(a, b.float(), rtol=1e-3, atol=1e-3)


def test_mmap_cache_is_reused_then_rebuilt_when_data_changes(npz_root, caplog):
    with caplog.at_level(logging.INFO):
        first = load(npz_root, "mmap")
    assert "building the mmap cache" in caplog.text
    (folder,) = [p for p in (npz_root / "cache").iterdir()]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        again = load(npz_root, "mmap")
    assert "using the mmap cache" in caplog.text and "building" not in caplog.text
    same_batches(first, again)

    clip = sorted((npz_root / "keypoints_train").glob("*.npz"))[0]
    data = dict(np.load(clip))
    data["X"] = data["X"] + 0.01
    np.savez(clip, **data)
    os.utime(clip, ns=(time.time_ns(), time.time_ns() + 10**9))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        changed = load(npz_root, "mmap")
    assert "building the mmap cache" in caplog.text
    assert [p.name for p in (npz_root / "cache").iterdir()] != [folder.name]  # stale cache replaced
    assert len(list((npz_root / "cache").iterdir())) == 1
    same_batches(changed, load(npz_root, "memory"))
    assert not np.array_equal(changed.clip(0), first.clip(0))


def test_header_lengths_without_reading_the_data(npz_root):
    clip = sorted((npz_root / "keypoints_train").glob("*.npz"))[0]
    name, length, width = npz_length(clip, ["X2048", "X"])
    assert name == "X2048" and width == 2048 and length == len(np.load(clip)["X"])
    assert npz_length(clip, ["nothing"]) is None


def test_bad_clips_are_reported_in_every_mode(npz_root):
    clip = sorted((npz_root / "keypoints_train").glob("*.npz"))[1]
    np.savez(clip, X=np.full((4, 156), np.nan, np.float32), mask=np.ones((4, 78), bool))
    for cache in ("memory", "mmap", "none"):
        with pytest.raises(Exception, match="NaN/inf"):
            load(npz_root, cache)
    assert not [p for p in (npz_root / "cache").glob("*") if not p.name.startswith(".")]  # no half-built cache

"""The contiguous clip buffer and the padded batches cut from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from signlang.data.clips import ClipSet


def make_set(lengths=(3, 1, 5), width=4) -> tuple[ClipSet, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    clips = [rng.normal(size=(n, width)).astype(np.float32) for n in lengths]
    masks = [rng.random((n, 78)) > 0.5 for n in lengths]
    n = len(lengths)
    return ClipSet.from_clips(
        clips, gloss=range(n), cat=[0] * n, occluded=[0, 1, 0][:n], names=list("abc")[:n], point_masks=masks
    ), clips


def test_buffer_is_one_array_with_offsets():
    cs, clips = make_set()
    assert cs.x.shape == (9, 4) and cs.buffer.shape == (10, 4) and cs.offsets.tolist() == [0, 3, 4, 9]
    assert not cs.buffer[-1].any() and not cs.mask_buffer[-1].any()  # the row padding reads
    assert cs.lengths.tolist() == [3, 1, 5]
    for i, c in enumerate(clips):
        np.testing.assert_array_equal(cs.clip(i), c)


def test_batch_pads_with_zeros_and_marks_padding():
    cs, clips = make_set()
    b = cs.batch([2, 1, 0])
    assert b.x.shape == (3, 5, 4) and b.x.dtype == torch.float32
    assert b.lengths.tolist() == [5, 1, 3]
    assert b.pad_mask.tolist()[1] == [False, True, True, True, True]
    for row, i in enumerate([2, 1, 0]):
        n = len(clips[i])
        np.testing.assert_array_equal(b.x[row, :n].numpy(), clips[i])
        assert torch.all(b.x[row, n:] == 0)
        assert not b.point_mask[row, n:].any()
    assert b.gloss.tolist() == [2, 1, 0] and b.index.tolist() == [2, 1, 0] and b.occluded.tolist() == [0, 1, 0]


def test_float16_buffer_is_cast_back_per_batch():
    _, clips = make_set()
    cs = ClipSet.from_clips(
        clips, gloss=[0, 0, 0], cat=[0, 0, 0], occluded=[0, 0, 0], names=list("abc"), dtype=np.float16
    )
    assert cs.x.dtype == np.float16
    b = cs.batch([0, 2]).to("cpu")
    assert b.x.dtype == torch.float16  # half the bytes until the model's first op computes in float32
    np.testing.assert_allclose(b.x[1].float().numpy(), clips[2], atol=1e-2)


def test_inconsistent_arrays_are_refused():
    cs, _ = make_set()
    with pytest.raises(ValueError):
        ClipSet(
            buffer=cs.buffer, offsets=cs.offsets[:-1], gloss=cs.gloss, cat=cs.cat, occluded=cs.occluded, names=cs.names
        )


def test_batch_moves_between_devices_whole():
    cs, _ = make_set()
    b = cs.batch([0, 1]).to("cpu")
    assert b.point_mask is not None and len(b) == 2


def test_concat_joins_splits_in_order_with_their_masks():
    a, clips_a = make_set((3, 1, 5))
    b, clips_b = make_set((2, 4))
    both = ClipSet.concat([a, b])
    assert len(both) == 5 and both.names == ["a", "b", "c", "a", "b"] and both.lengths.tolist() == [3, 1, 5, 2, 4]
    assert both.gloss.tolist() == [0, 1, 2, 0, 1] and both.occluded.tolist() == [0, 1, 0, 0, 1]
    for i, c in enumerate(clips_a + clips_b):
        np.testing.assert_array_equal(both.clip(i), c)
    np.testing.assert_array_equal(both.point_mask, np.concatenate([a.point_mask, b.point_mask]))
    assert not both.buffer[-1].any()  # the padding row
    b.mask_buffer = None
    assert ClipSet.concat([a, b]).mask_buffer is None  # a mask only where every split has one

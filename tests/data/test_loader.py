"""Batch order: every clip once per epoch, repeatable per (seed, epoch); evaluation sorted by length."""

from __future__ import annotations

import numpy as np

from signlang.data.loader import BatchSampler, make_loader

from conftest import tiny_synthetic


def test_shuffled_epoch_visits_every_index_once():
    s = BatchSampler(np.arange(103), batch_size=10, shuffle=True, seed=3)
    batches = list(s)
    assert len(batches) == len(s) == 11
    assert sorted(i for b in batches for i in b) == list(range(103))


def test_order_depends_only_on_seed_and_epoch():
    a = BatchSampler(np.arange(50), 8, shuffle=True, seed=1)
    b = BatchSampler(np.arange(50), 8, shuffle=True, seed=1)
    a.set_epoch(4)
    b.set_epoch(4)
    assert list(a) == list(b)
    b.set_epoch(5)
    assert list(a) != list(b)
    c = BatchSampler(np.arange(50), 8, shuffle=True, seed=2)
    c.set_epoch(4)
    assert list(a) != list(c)


def test_evaluation_batches_are_sorted_by_length():
    lengths = np.array([5, 1, 9, 3, 7])
    order = [i for b in BatchSampler(lengths, 2, shuffle=False) for i in b]
    assert list(lengths[order]) == sorted(lengths)


def test_drop_last():
    s = BatchSampler(np.arange(10), 4, shuffle=True, drop_last=True)
    assert len(s) == 2 and all(len(b) == 4 for b in s)


def test_loader_yields_padded_batches_with_workers():
    data = tiny_synthetic()
    data.setup()
    clips = data.split("train")
    for workers in (0, 1):
        loader = make_loader(clips, 5, shuffle=True, seed=0, num_workers=workers)
        seen = [i for batch in loader for i in batch.index.tolist()]
        assert sorted(seen) == list(range(len(clips)))

"""Batch order: every clip once per epoch, repeatable per (seed, epoch); evaluation sorted by length."""

from __future__ import annotations

import numpy as np
from conftest import tiny_synthetic

from signlang.data.loader import BatchSampler, make_loader


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


def test_bucketed_epoch_visits_every_index_once_and_is_deterministic():
    lengths = np.random.default_rng(0).integers(80, 161, size=1000)
    s = BatchSampler(lengths, 32, shuffle=True, bucket=True, seed=3)
    s.set_epoch(1)
    batches = s.batches()
    assert sorted(i for b in batches for i in b) == list(range(1000))
    again = BatchSampler(lengths, 32, shuffle=True, bucket=True, seed=3)
    again.set_epoch(1)
    assert [b.tolist() for b in again.batches()] == [b.tolist() for b in batches]
    s.set_epoch(2)
    assert [b.tolist() for b in s.batches()] != [b.tolist() for b in batches]  # reshuffled each epoch


def test_bucketing_cuts_padding_and_keeps_batches_random():
    from signlang.data.loader import padding_fraction

    lengths = np.random.default_rng(0).integers(80, 161, size=1704)
    plain = BatchSampler(lengths, 32, shuffle=True, seed=0).batches()
    bucketed = BatchSampler(lengths, 32, shuffle=True, bucket=True, seed=0).batches()
    assert padding_fraction(lengths, bucketed) < 0.5 * padding_fraction(lengths, plain)
    firsts = [lengths[b].mean() for b in bucketed[:10]]
    assert np.std(firsts) > 5  # batch order is shuffled, not sorted by length


def test_ranks_split_the_batches_of_an_epoch():
    lengths = np.random.default_rng(0).integers(5, 50, size=101)
    ranks = [BatchSampler(lengths, 8, shuffle=True, bucket=True, seed=1, rank=r, world_size=3) for r in range(3)]
    per_rank = [r.batches() for r in ranks]
    assert len({len(b) for b in per_rank}) == 1  # equal step counts
    seen = {i for batches in per_rank for b in batches for i in b}
    assert seen == set(range(101))

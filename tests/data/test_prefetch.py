"""The background prefetcher yields everything in order, passes errors on, and stops cleanly."""

from __future__ import annotations

import threading

import pytest

from signlang.data.prefetch import ThreadPrefetcher


def test_same_items_in_order():
    assert list(ThreadPrefetcher(range(100), depth=3)) == list(range(100))
    assert len(ThreadPrefetcher([1, 2, 3])) == 3


def test_errors_reach_the_consumer():
    def broken():
        yield 1
        raise ValueError("bad batch")

    with pytest.raises(ValueError, match="bad batch"):
        list(ThreadPrefetcher(broken()))


def test_stopping_early_ends_the_thread():
    before = threading.active_count()
    for i in ThreadPrefetcher(range(10_000), depth=2):
        if i == 5:
            break
    assert threading.active_count() == before

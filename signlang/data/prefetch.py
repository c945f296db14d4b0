"""Prepare the next batches in a background thread while the model computes.

With batches gathered from memory (``num_workers=0``), a gather is a few NumPy copies that release
the GIL, so one thread a couple of batches ahead hides it behind the step (worker processes would
instead copy every batch between processes).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class ThreadPrefetcher(Iterable[T]):
    """Iterate ``source`` in a daemon thread, at most ``depth`` items ahead; errors re-raise here."""

    def __init__(self, source: Iterable[T], depth: int = 2) -> None:
        self.source = source
        self.depth = max(1, depth)

    def __len__(self) -> int:
        return len(self.source)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[T]:
        items: queue.Queue = queue.Queue(maxsize=self.depth)
        stop = threading.Event()

        def produce() -> None:
            try:
                for item in self.source:
                    while not stop.is_set():
                        try:
                            items.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                items.put(_DONE)
            except BaseException as exc:  # handed to the consumer
                items.put(exc)

        thread = threading.Thread(target=produce, name="signlang-prefetch", daemon=True)
        thread.start()
        try:
            while True:
                item = items.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():  # unblock a producer waiting on a full queue
                try:
                    items.get(timeout=0.05)
                except queue.Empty:
                    pass
            thread.join()

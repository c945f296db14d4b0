"""Ctrl-C and SIGTERM stop training between steps, never in the middle of writing the run's files."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread when SIGINT or SIGTERM arrives; ``signum`` gives the exit status."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class InterruptGuard:
    """Turns SIGINT/SIGTERM into :class:`Interrupted`, deferred while inside :meth:`critical`.

    Saving a checkpoint, appending metrics and updating the summary happen inside ``critical()``,
    so a signal there takes effect right after the files are consistent.
    """

    def __init__(self) -> None:
        self._pending: int | None = None
        self._depth = 0
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame) -> None:
        if self._depth:
            self._pending = signum
        else:
            raise Interrupted(signum)

    def __enter__(self) -> InterruptGuard:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    @contextmanager
    def critical(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth and self._pending is not None:
                signum, self._pending = self._pending, None
                raise Interrupted(signum)

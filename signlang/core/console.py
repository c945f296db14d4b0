"""The log handler behind the console: rich on a terminal, plain unwrapped lines everywhere else.

Rich lays a record out in columns and wraps the message at the console width (``COLUMNS``, or 80
when there is no terminal). On a terminal that is what a reader wants; in a file, a pipe or CI a
message cut over several lines can no longer be searched for, so there each record is one line.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class ConsoleHandler(RichHandler):
    """``RichHandler`` on a terminal; ``LEVEL message`` lines, never wrapped, when not."""

    def emit(self, record: logging.LogRecord) -> None:
        if self.console.is_terminal:
            super().emit(record)
            return
        try:
            self.console.file.write(f"{record.levelname:<8} {self.format(record)}\n")  # with any traceback
            self.console.file.flush()
        except Exception:  # logging must never raise into the program
            self.handleError(record)


class RunLogHandler(logging.FileHandler):
    """``run.log`` in the run folder. When it cannot be written (a full or read-only disk, a folder that
    went away) it says so once on the console and stops, instead of a traceback for every record."""

    def __init__(self, filename: str, mode: str = "a", encoding: str | None = None, delay: bool = True) -> None:
        super().__init__(filename, mode, encoding, delay)  # delay: opened at the first record, errors included
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        if not self.failed:
            self.failed = True
            error = sys.exc_info()[1]
            sys.stderr.write(
                f"{self.baseFilename} could not be written ({getattr(error, 'strerror', None) or error}); "
                "the console keeps the log\n"
            )


@contextmanager
def native_stderr(passes: Callable[[str], bool]) -> Iterator[list[str]]:
    """Route file descriptor 2 into a temp file for the block, where native libraries (MediaPipe,
    TFLite, FFmpeg inside OpenCV) write past Python's logging. Afterwards the lines ``passes`` accepts go
    on to stderr as they were written; the others land in the yielded list, for the caller to count or
    drop."""
    sys.stderr.flush()
    saved = os.dup(2)
    held: list[str] = []
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield held
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = [line for line in capture.read().decode(errors="replace").splitlines() if line]
            kept = [line for line in lines if passes(line)]
            held.extend(line for line in lines if not passes(line))
            if kept:  # to the descriptor itself, as they were written
                os.write(2, ("\n".join(kept) + "\n").encode())


def progress_bar(enabled: bool = True):
    """The training progress display: a transient bar per epoch and per validation pass."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        transient=True,
        disable=not enabled,
    )


def duration(seconds: float) -> str:
    """``42 s``, ``12.5 min`` or ``2.1 h``."""
    return (
        f"{seconds:.0f} s"
        if seconds < 90
        else f"{seconds / 60:.1f} min"
        if seconds < 5400
        else f"{seconds / 3600:.1f} h"
    )

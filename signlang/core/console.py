"""The log handler behind the console: rich on a terminal, plain unwrapped lines everywhere else.

Rich lays a record out in columns and wraps the message at the console width (``COLUMNS``, or 80
when there is no terminal). On a terminal that is what a reader wants; in a file, a pipe or CI a
message cut over several lines can no longer be searched for, so there each record is one line.
"""

from __future__ import annotations

import logging

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

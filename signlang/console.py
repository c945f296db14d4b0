"""The log handler behind the console: rich on a terminal, plain unwrapped lines everywhere else.

Rich lays a record out in columns and wraps the message at the console width (``COLUMNS``, or 80
when there is no terminal). On a terminal that is what a reader wants; in a file, a pipe or CI a
message cut over several lines can no longer be searched for, so there each record is one line.
"""

from __future__ import annotations

import logging

from rich.logging import RichHandler


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

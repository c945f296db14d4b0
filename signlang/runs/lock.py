"""One writer per run folder: an exclusive lock on ``<run>/.lock`` for as long as a process trains into it.

The lock is ``flock(2)`` on an open file, so the kernel drops it when the process ends, however it
ends: a crash, SIGKILL, or the machine going down (the file stays; nobody holds it, so the next writer
takes it). The file also says who holds it (pid, host, since when, the command), for the message a
second writer gets. Readers (``signlang runs``, ``evaluate``, the app) never touch it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from signlang.core.errors import SignlangError
from signlang.runs.record import LOCK_FILE


class RunInUse(SignlangError):
    """Another process is writing the run folder."""


class RunLock:
    """The lock of one run folder; :meth:`acquire` takes it or raises :class:`RunInUse`."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> dict[str, Any]:
        """Who last took the lock, as its file says ({} when unreadable)."""
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def acquire(self) -> RunLock:
        """Take the lock without waiting; ``OSError`` when the folder cannot be written at all."""
        if self._fd is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            if self.mine():  # this process holds it already (through another open file): one writer still
                return self
            raise RunInUse(self._in_use_message()) from None
        self._fd = fd
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps({**me, "command": " ".join(sys.argv)}) + "\n").encode(), 0)
            os.fsync(fd)
        except OSError:  # a full or read-only disk: the caller reports it; the lock is not kept
            self.release()
            raise
        return self

    def release(self) -> None:
        """Let the next writer in (the file stays: removing it would race with a writer opening it)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:  # a lock object dropped without release (an exit past the usual path)
        self.release()

    def mine(self) -> bool:
        """Whether this process holds the lock, as far as its file says (a Hydra callback took it)."""
        holder = self.holder()
        return holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname()

    def _in_use_message(self) -> str:
        holder = self.holder()
        who = f"process {holder.get('pid', '?')} on {holder.get('host', '?')}, since {holder.get('since', '?')}"
        command = f" ({holder['command']})" if holder.get("command") else ""
        return (
            f"{self.folder} is being written by {who}{command}; a run folder has one writer at a time. "
            "Wait for that process to end (signlang runs shows it running) or stop it, then resume; "
            "a lock left by a process that died is taken over"
        )

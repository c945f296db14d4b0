"""Peak memory of this process, importing nothing heavy (the idle-torch baseline imports only this and torch)."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident memory. ``VmHWM`` belongs to the process image: Linux carries
    ``ru_maxrss`` over from the parent across fork + exec, so a child started by a parent that once
    held the generated data would report the parent's peak instead of its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )  # not Linux: ru_maxrss (kB on Linux, bytes on macOS)

"""The run folder: metrics.csv, summary.json and checkpoints of one training run.

Hydra creates the folder (and its ``.hydra/``); this class owns everything signlang writes
into it. Files are appended or replaced atomically, never truncated, so a run's record survives
crashes and nothing it wrote is lost.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from signlang.errors import user_message
from signlang.training.checkpoint import atomic_write

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.csv"
SUMMARY_FILE = "summary.json"
CHECKPOINT_DIR = "checkpoints"
STATUSES = ("running", "finished", "failed", "interrupted")


class RunFolder:
    """Paths and writers for one run folder."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._started = time.time()

    @classmethod
    def from_hydra(cls) -> "RunFolder":
        """The folder Hydra made for this job (``hydra.runtime.output_dir``)."""
        from hydra.core.hydra_config import HydraConfig

        hydra = HydraConfig.get()
        run = cls(hydra.runtime.output_dir)
        choices = {k: v for k, v in hydra.runtime.choices.items() if not k.startswith("hydra")}
        run.update_summary(status="running", choices=choices, overrides=list(hydra.overrides.task))
        return run

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY_FILE

    def checkpoint_path(self, model_name: str, which: str) -> Path:
        """``checkpoints/<ModelName>_<which>.pt`` with which = best | last."""
        return self.path / CHECKPOINT_DIR / f"{model_name}_{which}.pt"

    def append_metrics(self, row: dict[str, Any]) -> None:
        """Append one epoch's row to metrics.csv (header on first write) and flush it to disk."""
        new = not self.metrics_path.exists()
        with open(self.metrics_path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
            f.flush()
            os.fsync(f.fileno())

    def read_summary(self) -> dict[str, Any]:
        try:
            return json.loads(self.summary_path.read_text())
        except (OSError, ValueError):
            return {}

    def update_summary(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into summary.json (atomically) and return the new summary."""
        summary = self.read_summary()
        summary.update(fields)
        summary["wall_time_s"] = round(summary.get("wall_time_before_s", 0.0) + time.time() - self._started, 3)
        text = json.dumps(summary, indent=2, sort_keys=False) + "\n"
        atomic_write(self.summary_path, lambda f: f.write(text.encode()))
        return summary

    def set_status(self, status: str, **fields: Any) -> dict[str, Any]:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return self.update_summary(status=status, **fields)

    @contextmanager
    def recording(self) -> Iterator["RunFolder"]:
        """Mark the run ``failed`` or ``interrupted`` in summary.json if the block raises, then re-raise."""
        try:
            yield self
        except KeyboardInterrupt:
            self.set_status("interrupted")
            raise
        except Exception as exc:
            message = user_message(exc) or f"{type(exc).__name__}: {exc}"
            self.set_status("failed", error=message)
            raise

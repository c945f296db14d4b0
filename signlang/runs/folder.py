"""The run folder: metrics.csv, summary.json and checkpoints of one training run.

Hydra creates the folder (and its ``.hydra/``), named by ``conf/config.yaml`` with the one
resolver registered here; :class:`RunFolder` owns everything signlang writes into it. Files are
appended or replaced atomically, never truncated, so a run's record survives crashes, and a
resumed run continues the same files (``signlang.training.resume``).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from signlang.core.errors import SignlangError, user_message
from signlang.core.files import atomic_write
from signlang.runs.checkpoints import load_checkpoint, save_checkpoint
from signlang.runs.lock import RunLock
from signlang.runs.provenance import provenance
from signlang.runs.record import (
    CHECKPOINT_DIR,
    CURVES_FILE,
    ENV_FILE,
    EVAL_DIR,
    METRIC_COLUMNS,
    METRICS_FILE,
    PRETRAIN_COLUMNS,
    PRETRAIN_METRICS_FILE,
    PRETRAINED_FILE,
    STATUSES,
    SUMMARY_FILE,
    checkpoint_name,
)

log = logging.getLogger(__name__)

# What a write failure on a run folder looks like: a full disk or quota, a read-only or vanished folder.
WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT, errno.EIO)


class RunNotWritten(SignlangError):
    """A file of the run folder could not be written; the message says which, and what can be resumed."""


def register_resolvers() -> None:
    """Register ``${signlang.uid:}`` (idempotent): a short random id, drawn once per composed config
    (and shared by every job of a sweep), so two runs started in the same second never share a
    folder. It is the one thing the YAML cannot say."""
    OmegaConf.register_new_resolver("signlang.uid", lambda: secrets.token_hex(3), use_cache=True, replace=True)


class RunFolder:
    """Paths and writers for one run folder."""

    def __init__(self, path: str | Path, writer: bool = True) -> None:
        self.path = Path(path)
        self.writer = writer  # False on ranks other than 0: they read the folder, never write it
        if writer:
            self.path.mkdir(parents=True, exist_ok=True)
        self._started = time.time()
        self._wall_before = 0.0  # time spent by earlier sessions of a resumed run
        self.previous_status: str | None = None  # how the last session ended, when resuming
        self.session_started = True  # False while a resume is being checked: a refusal leaves the record alone
        self._overrides: list[str] = []
        self.loggers: list = []  # experiment trackers mirroring this record (signlang.training.loggers)
        self.checkpointed: tuple[str, int] | None = None  # (model, epoch) of the newest <Model>_last.pt
        self.lock: RunLock | None = None  # the writer's lock (usually taken first by the Hydra callback)

    @classmethod
    def from_hydra(cls, resuming: bool = False, dist=None) -> RunFolder:
        """The folder Hydra made for this job (``hydra.runtime.output_dir``).

        A fresh run records its provenance at once. A resumed run leaves the folder untouched until
        the trainer has checked the checkpoint (:meth:`start_resumed_session`), so a refused resume
        never changes the run's record.
        """
        hydra = HydraConfig.get()
        if dist is not None and dist.enabled:  # one folder for all ranks: rank 0's
            path = dist.broadcast(hydra.runtime.output_dir if dist.is_main else None)
            if not dist.is_main:
                run = cls(path, writer=False)
                run.previous_status = run.read_summary().get("status") if resuming else None
                return run
        run = cls(hydra.runtime.output_dir)
        run._overrides = list(hydra.overrides.task)
        with run.writing():
            run.lock = RunLock(run.path).acquire()  # this process's already, when the Hydra callback took it
            if resuming:
                run.previous_status = run.read_summary().get("status")
                run.session_started = False
            else:
                choices = {k: v for k, v in hydra.runtime.choices.items() if not k.startswith("hydra")}
                run.update_summary(
                    status="running", choices=choices, overrides=run._overrides, started_at=_now(), **_process()
                )
                atomic_write(run.path / ENV_FILE, _json_bytes(provenance()))
        return run

    def start_resumed_session(self) -> None:
        """Record a resumed session: clean up after a killed save, note when and how it was resumed."""
        if not self.writer:
            self.session_started = True
            return
        for stale in (self.path / CHECKPOINT_DIR).glob(".*.tmp"):  # left by a process killed mid-save
            stale.unlink()
        previous = self.read_summary()
        self._wall_before = float(previous.get("wall_time_s", 0.0))
        sessions = previous.get("resumed", []) + [{"at": _now(), "overrides": self._overrides}]
        self.update_summary(status="running", resumed=sessions, error=None, **_process())
        atomic_write(self.path / f"env_resumed_{len(sessions)}.json", _json_bytes(provenance()))
        self.session_started = True

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY_FILE

    def checkpoint_path(self, model_name: str, which: str) -> Path:
        """``checkpoints/<ModelName>_<which>.pt`` with which = best | last."""
        return self.path / CHECKPOINT_DIR / checkpoint_name(model_name, which)

    def save_checkpoints(self, model_name: str, state: dict[str, Any], best: bool) -> None:
        """``<Model>_last.pt`` after every epoch, and ``<Model>_best.pt`` when the epoch is the best."""
        if not self.writer:
            return
        self._check_present()
        if best:
            save_checkpoint(self.checkpoint_path(model_name, "best"), state)
        save_checkpoint(self.checkpoint_path(model_name, "last"), state)
        self.checkpointed = (model_name, int(state["epoch"]))

    @property
    def pretrained_path(self) -> Path:
        """``checkpoints/pretrained_encoder.pt``: what ``pretrain=masked`` made, and ``pretrain.init`` reads."""
        return self.path / CHECKPOINT_DIR / PRETRAINED_FILE

    def save_pretraining(self, state: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        """The pre-trained encoder(s) and ``pretrain_metrics.csv`` (its loss every few steps), each atomically."""
        if not self.writer:
            return
        self._check_present()
        save_checkpoint(self.pretrained_path, state)
        text = io.StringIO()
        table = csv.DictWriter(text, fieldnames=list(PRETRAIN_COLUMNS))
        table.writeheader()
        table.writerows(rows)
        atomic_write(self.path / PRETRAIN_METRICS_FILE, lambda f: f.write(text.getvalue().encode()))

    def update_checkpoint(self, path: Path, **fields: Any) -> dict[str, Any]:
        """Add ``fields`` to the checkpoint at ``path`` (atomically; a field it held before is kept in
        ``<field>_history``, so nothing it recorded is lost) and return the new state."""
        state = load_checkpoint(path)
        if not self.writer:
            return state
        self._check_present()
        for key, value in fields.items():
            if state.get(key) is not None:
                state[f"{key}_history"] = [*state.get(f"{key}_history", []), state[key]]
            state[key] = value
        save_checkpoint(path, state)
        return state

    def recorded_epochs(self) -> list[int]:
        """Epochs that already have a row in metrics.csv."""
        if not self.metrics_path.exists():
            return []
        with open(self.metrics_path, newline="") as f:
            return [int(row["epoch"]) for row in csv.DictReader(f) if row.get("epoch", "").isdigit()]

    def attach(self, loggers: list, config: dict[str, Any], tags: dict[str, str], resumed: bool = False) -> None:
        """Start experiment trackers that mirror this run: each metrics.csv row goes to them as it is
        written, and they finish with the run's final status (``set_status``)."""
        if not self.writer:
            return
        for logger in loggers:
            logger.start(self, config, tags, resumed)
            self.loggers.append(logger)

    def append_metrics(self, row: dict[str, Any]) -> None:
        """Append one epoch's row to metrics.csv (header on first write), flush it to disk, and pass it
        on to the attached trackers."""
        if not self.writer:
            return
        self._check_present()
        new = not self.metrics_path.exists()
        with open(self.metrics_path, "a", newline="") as f:
            size = f.tell()
            try:
                writer = csv.DictWriter(f, fieldnames=list(METRIC_COLUMNS))
                if new:
                    writer.writeheader()
                writer.writerow(row)
                f.flush()
                os.fsync(f.fileno())
            except OSError:
                f.truncate(size)  # no half row: a resume appends the whole row from the checkpoint
                raise
        self._to_trackers("log_epoch", row)

    def append_missing_metrics(self, history: list[dict[str, Any]]) -> None:
        """Append rows a checkpoint holds but metrics.csv lacks (a crash between the two writes)."""
        recorded = set(self.recorded_epochs())
        for row in history:
            if row["epoch"] not in recorded:
                self.append_metrics(row)

    def read_summary(self) -> dict[str, Any]:
        try:
            return json.loads(self.summary_path.read_text())
        except (OSError, ValueError):
            return {}

    def update_summary(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into summary.json (atomically) and return the new summary."""
        summary = self.read_summary()
        summary.update(fields)
        if not self.writer:
            return summary
        summary["wall_time_s"] = round(self._wall_before + time.time() - self._started, 3)
        self._check_present()
        atomic_write(self.summary_path, _json_bytes(summary))
        return summary

    def set_status(self, status: str, **fields: Any) -> dict[str, Any]:
        """Record the run's status; a final one (finished, failed, interrupted) also closes the trackers."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        try:
            summary = self.update_summary(status=status, **fields)
        finally:
            if status != "running":  # the trackers hear the end even when summary.json cannot be written
                self._to_trackers("finish", self, status)
                self.loggers = []
        return summary

    def _to_trackers(self, method: str, *args: Any) -> None:
        """Call every attached tracker; one that fails (a server gone away) is reported and dropped, and
        never costs the run its own record."""
        for logger in list(self.loggers):
            try:
                getattr(logger, method)(*args)
            except Exception as e:
                log.warning(
                    "%s failed (%s: %s); the run goes on without it", type(logger).__name__, type(e).__name__, e
                )
                self.loggers.remove(logger)

    @contextmanager
    def recording(self) -> Iterator[RunFolder]:
        """Mark the run ``failed`` or ``interrupted`` in summary.json if the block raises, then re-raise;
        a file of the run that could not be written (a full disk, a read-only or vanished folder) becomes
        one :class:`RunNotWritten` message. The writer's lock is let go at the end."""
        try:
            with self.writing():
                yield self
        except KeyboardInterrupt:
            self._final_status("interrupted")
            raise
        except Exception as exc:
            self._final_status("failed", error=user_message(exc) or f"{type(exc).__name__}: {exc}")
            raise
        finally:
            if self.lock is not None:
                self.lock.release()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Turn an ``OSError`` writing this run's files into :class:`RunNotWritten`, which says which file,
        why, and from which epoch the run can be resumed."""
        try:
            yield
        except OSError as exc:
            if not self._is_write_failure(exc):
                raise
            raise RunNotWritten(self._not_written(exc)) from None

    def _is_write_failure(self, exc: OSError) -> bool:
        inside = exc.filename is not None and Path(str(exc.filename)).resolve().is_relative_to(self.path.resolve())
        return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS) or (inside and exc.errno in WRITE_ERRORS)

    def _not_written(self, exc: OSError) -> str:
        what = f"could not write {exc.filename or self.path} ({exc.strerror})"
        if not self.path.is_dir():
            return f"{what}: the run folder {self.path} is gone, and the run with it"
        if exc.filename and Path(str(exc.filename)).resolve().is_relative_to((self.path / EVAL_DIR).resolve()):
            return (
                f"{what}. Training finished and its checkpoints are kept: make room, then signlang evaluate {self.path}"
            )
        if exc.filename and Path(str(exc.filename)).name == CURVES_FILE:
            return (
                f"{what}. The run finished; only its curves are missing: signlang plot {self.path} --out {exc.filename}"
            )
        if self.checkpointed is None:
            return f"{what}. The run stopped before its first checkpoint, so there is nothing to resume: start it again"
        model, epoch = self.checkpointed
        last = f"{CHECKPOINT_DIR}/{checkpoint_name(model, 'last')}"
        return (
            f"{what}. The run stopped; it is resumable from epoch {epoch} ({last}): "
            f"make room, then: python run.py trainer.resume={self.path}"
        )

    def _final_status(self, status: str, **fields: Any) -> None:
        """Record how the session ended, as far as the disk lets us (the message already says why)."""
        if not self.session_started:
            return
        try:
            self.set_status(status, **fields)
        except (OSError, RunNotWritten) as e:
            log.warning("summary.json could not record that the run %s (%s)", status, getattr(e, "strerror", e))

    def _check_present(self) -> None:
        """Never recreate a run folder that was removed under a running run (a write would bring back half of it)."""
        if not self.path.is_dir():
            raise FileNotFoundError(errno.ENOENT, "the run folder is gone", str(self.path))


def _json_bytes(obj: Any):
    text = json.dumps(obj, indent=2) + "\n"
    return lambda f: f.write(text.encode())


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def _process() -> dict[str, Any]:
    """Who is writing the run, so ``signlang runs`` can tell a live run from one whose process died."""
    return {"pid": os.getpid(), "host": socket.gethostname()}

"""Experiment trackers (``conf/logger``): each run's record mirrored into TensorBoard and/or MLflow.

``metrics.csv`` in the run folder is always written (``logger=csv``, the default). ``logger=tensorboard``
adds event files in ``<run>/tensorboard/``; ``logger=mlflow`` a run in an MLflow tracking store
(a local SQLite file under the output root unless ``logger.mlflow.tracking_uri`` says otherwise);
``logger=[tensorboard,mlflow]`` both. The run folder drives them (``RunFolder.attach``): a tracker
starts with the run, gets every row of ``metrics.csv`` as it is written, and finishes with the run's
status, taking the evaluation reports and figures with it. Only the process that writes the run
folder (rank 0) logs.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from signlang.runs.provenance import git_info
from signlang.runs.record import CURVES_FILE, EVAL_DIR, HYDRA_DIR, METRICS_FILE, SUMMARY_FILE, TRACKED

log = logging.getLogger(__name__)

MLFLOW_STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}


class RunLogger:
    """One tracker. ``start`` once per session (a resumed run starts again), ``log_epoch`` per
    ``metrics.csv`` row, ``finish`` with the run's status when the session ends."""

    def start(self, run, config: dict[str, Any], tags: dict[str, str], resumed: bool) -> None: ...

    def log_epoch(self, row: dict[str, Any]) -> None: ...

    def finish(self, run, status: str) -> None: ...


def build_loggers(cfg: DictConfig | None) -> list[RunLogger]:
    """The trackers a ``logger`` config names (``logger=csv``: none beyond metrics.csv)."""
    return [instantiate(entry) for entry in (cfg or {}).values() if entry is not None]


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"model": {"d_model": 128}}`` -> ``{"model.d_model": "128"}`` (what a tracker takes as parameters)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value)
    return out


def run_tags(cfg: DictConfig) -> dict[str, str]:
    """What a tracker's run is labelled with: model, data, seed, git commit, and the sweep and job."""
    tags = {"seed": str(cfg.trainer.seed), "git_commit": (git_info() or {}).get("commit", "unknown")}
    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        tags["model"], tags["data"] = str(hydra.runtime.choices.get("model")), str(hydra.runtime.choices.get("data"))
        if hydra.mode == RunMode.MULTIRUN:
            tags["sweep"], tags["job"] = Path(str(hydra.sweep.dir)).name, str(hydra.job.num)
    return tags


class TensorBoardLogger(RunLogger):
    """Event files in ``<run>/<subdir>/``: every metrics.csv column as a scalar per epoch, the config as
    text, and the confusion matrices of the final report as images (``tensorboard --logdir experiments``)."""

    def __init__(self, subdir: str = "tensorboard") -> None:
        self.subdir = subdir
        self.writer = None

    def start(self, run, config, tags, resumed) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run.path / self.subdir))
        if not resumed:
            text = OmegaConf.to_yaml(OmegaConf.create(config)).replace("\n", "\n    ")
            self.writer.add_text("config", "    " + text, 0)  # indented: shown as code
            self.writer.add_text("tags", ", ".join(f"{k}={v}" for k, v in tags.items()), 0)

    def log_epoch(self, row) -> None:
        for column, name in TRACKED.items():
            if row.get(column) is not None:
                self.writer.add_scalar(name, float(row[column]), int(row["epoch"]))
        self.writer.flush()

    def finish(self, run, status) -> None:
        if self.writer is None:
            return
        from matplotlib.image import imread  # matplotlib only when TensorBoard is on

        for png in sorted((run.path / EVAL_DIR).glob("*/confusion_*.png")):
            image = (imread(png)[..., :3] * 255).astype(np.uint8)
            self.writer.add_image(f"{png.parent.name}/{png.stem}", image, dataformats="HWC")
        self.writer.close()
        self.writer = None


@contextmanager
def _logging_kept():
    """Put the root logger's handlers and level back as they were (MLflow's database migrations call
    ``logging.config.fileConfig``, which would otherwise take over the console and run.log)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
        for name in ("alembic", "mlflow"):
            logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def _global_tracking_uri(uri: str):
    """MLflow's process-wide tracking URI set to ``uri`` for the block, then put back (public API only)."""
    import mlflow

    previous = os.environ.get("MLFLOW_TRACKING_URI"), mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous[0] or previous[1])


class MLflowLogger(RunLogger):
    """One MLflow run per signlang run: parameters are the flattened composed config, metrics every
    epoch, tags model / data / seed / git commit / sweep and job, artifacts the evaluation reports,
    the curves and the config. A resumed run continues its MLflow run; a sweep's jobs share one
    experiment (named after the sweep). Uses ``MlflowClient``, so nothing global is set."""

    def __init__(self, tracking_uri: str, experiment: str = "signlang", artifact_root: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.artifact_root = artifact_root  # for a local store: where artifacts go (a remote server decides itself)
        self.client = None
        self.run_id: str | None = None
        for name in ("mlflow", "alembic"):  # their INFO lines (database migrations) would bury the run's console
            logging.getLogger(name).setLevel(logging.WARNING)

    def start(self, run, config, tags, resumed) -> None:
        with _logging_kept():  # creating a SQLite store runs MLflow's migrations, which reset Python logging
            message = self._start(run, config, tags, resumed)
        log.info("mlflow: %s", message)

    def _start(self, run, config, tags, resumed) -> str:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        uri = self.tracking_uri
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):  # relative: beside the runs
            Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(tracking_uri=uri)
        previous = run.read_summary().get("mlflow", {}) if resumed else {}
        if previous.get("run_id") and previous.get("tracking_uri") == uri:
            self.run_id = previous["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            self.client.set_tag(self.run_id, "resumed", "true")
            return f"continuing run {self.run_id} in {uri}"
        name = tags.get("sweep") or self.experiment
        found = self.client.get_experiment_by_name(name)
        artifacts = None
        if self.artifact_root and "://" not in uri.replace("sqlite://", "", 1):  # a local store
            artifacts = Path(self.artifact_root).resolve().as_uri()
        experiment_id = (
            found.experiment_id if found else self.client.create_experiment(name, artifact_location=artifacts)
        )
        created = self.client.create_run(
            experiment_id, run_name=run.path.name, tags={**tags, "run_folder": str(run.path.resolve())}
        )
        self.run_id = created.info.run_id
        params = [Param(k[:250], v[:6000]) for k, v in flatten(config).items()]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 parameters a call
            self.client.log_batch(self.run_id, params=params[start : start + 100])
        run.update_summary(mlflow={"tracking_uri": uri, "experiment_id": experiment_id, "run_id": self.run_id})
        return f"run {self.run_id} in experiment {name!r} ({uri})"

    def log_epoch(self, row) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(name, float(row[column]), now, int(row["epoch"]))
            for column, name in TRACKED.items()
            if row.get(column) is not None
        ]
        self.client.log_batch(self.run_id, metrics=metrics)

    def finish(self, run, status) -> None:
        if self.client is None or self.run_id is None:
            return
        # A server that proxies artifacts (mlflow-artifacts:/ URIs) is found through MLflow's global
        # tracking URI, whatever the client was given: set it for these calls only.
        with _global_tracking_uri(self.tracking_uri):
            for name in (EVAL_DIR, HYDRA_DIR):
                if (run.path / name).is_dir():
                    self.client.log_artifacts(self.run_id, str(run.path / name), artifact_path=name.lstrip("."))
            for name in (CURVES_FILE, METRICS_FILE, SUMMARY_FILE):
                if (run.path / name).is_file():
                    self.client.log_artifact(self.run_id, str(run.path / name))
        self.client.set_terminated(self.run_id, status=MLFLOW_STATUS.get(status, "FINISHED"))
        self.client = None

"""What the app shows, computed without Streamlit: run tables, a run's reports, dataset statistics,
clip animations and predictions. The pages (``signlang.app.pages``) only lay these out."""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from signlang.core.errors import DataError
from signlang.core.layout import LEFT_HAND, LEFT_WRIST, POSE, RIGHT_HAND, RIGHT_WRIST
from signlang.core.video import VIDEO_SUFFIXES
from signlang.data.cache import npz_length
from signlang.data.labels import clip_name, read_label_table
from signlang.data.validate import check_clip
from signlang.evaluation.evaluate import load_run
from signlang.evaluation.live import LiveWorker
from signlang.evaluation.predict import extraction_options, predict_files
from signlang.extract.pipeline import extract_one
from signlang.figures.skeleton import draw_frame, load_keypoints
from signlang.runs.checkpoints import find_checkpoint, load_checkpoint
from signlang.runs.record import CHECKPOINT_DIR, EVAL_DIR, METRICS_FILE, PREDICTIONS_FILE
from signlang.runs.table import METRICS, collect, differing, find_runs, seed_groups, select

VIDEO_TYPES = [suffix.lstrip(".") for suffix in VIDEO_SUFFIXES]  # what the upload box takes


# ----------------------------------------------------------------------------------------- runs
def run_table(root: Path, filters: str = "", sort: str = "started") -> pd.DataFrame:
    """The ``signlang runs`` leaderboard: one row per run, ``key=value`` filters, sorted like the CLI; the
    numbers first, then what the runs differ in."""
    rows = select(collect(root), sort, filters.split() if filters else None) if Path(root).is_dir() else []
    records = []
    for r, overrides in zip(rows, differing(rows)):
        records.append(
            {
                "folder": r.folder,
                "status": r.status,
                "model": r.model,
                "data": r.data,
                "overrides": " ".join(overrides),
                "epochs": r.epochs,
                **{m: r_value for m, r_value in ((m, getattr(r, m)) for m in METRICS)},
                "wall (min)": None if r.wall is None else round(r.wall / 60, 1),
                "problem": r.problem,
            }
        )
    return pd.DataFrame(
        records, columns=["folder", "status", "model", "data", "epochs", *METRICS, "wall (min)", "overrides", "problem"]
    )


def sweep_table(root: Path) -> pd.DataFrame:
    """Each sweep's jobs grouped by their overrides without the seed or val fold: mean ± std per metric."""
    out = []
    sweeps = Path(root) / "sweeps"
    for sweep in sorted(p for p in sweeps.iterdir() if p.is_dir()) if sweeps.is_dir() else []:
        for group in seed_groups(collect(sweep)):
            if group["jobs"] < 2:
                continue
            cells = {m: "{:.3f} ± {:.3f} (n={})".format(*group[m]) if group[m] else "—" for m in METRICS}
            out.append(
                {
                    "sweep": sweep.name,
                    "overrides": " ".join(group["overrides"]) or "(none)",
                    "jobs": f"{group['finished']}/{group['jobs']}",
                    **cells,
                }
            )
    return pd.DataFrame(out, columns=["sweep", "overrides", "jobs", *METRICS])


def checkpointed_runs(root: Path) -> list[str]:
    """Run folders (relative to ``root``) with a best checkpoint: what can predict."""
    root = Path(root)
    return [
        str(p.relative_to(root))
        for p in find_runs(root)
        if root.is_dir() and any((p / CHECKPOINT_DIR).glob("*_best.pt"))
    ]


@dataclass
class RunReport:
    """One run's curves and its latest evaluation report."""

    metrics: pd.DataFrame  # metrics.csv
    split: str | None  # the report's split (test, val, ...)
    headline: dict[str, Any]
    per_class: pd.DataFrame  # class, accuracy, support (worst first)
    confusions: pd.DataFrame  # true, predicted, count, clips (most frequent first)
    confusion_png: Path | None


def run_report(run_dir: Path) -> RunReport:
    run_dir = Path(run_dir)
    metrics = pd.read_csv(run_dir / METRICS_FILE) if (run_dir / METRICS_FILE).is_file() else pd.DataFrame()
    reports = sorted(  # clip reports: the open-set and stream reports hold other numbers
        (p for p in (run_dir / EVAL_DIR).glob("*/metrics.json") if (p.parent / PREDICTIONS_FILE).is_file()),
        key=lambda p: p.stat().st_mtime,
    )
    if not reports:
        return RunReport(metrics, None, {}, pd.DataFrame(), pd.DataFrame(), None)
    folder = reports[-1].parent
    report = json.loads(reports[-1].read_text())
    per_class = pd.DataFrame(
        [
            {"class": name, "accuracy": v["accuracy"], "support": v["support"]}
            for name, v in report["gloss"]["per_class"].items()
            if v["support"]
        ]
    ).sort_values(["accuracy", "class"])
    predictions = pd.read_csv(folder / PREDICTIONS_FILE, dtype={"file": str, "true": str, "predicted": str})
    wrong = predictions[predictions["correct"] == 0]
    confusions = (
        wrong.groupby(["true", "predicted"])["file"]
        .agg(count="size", clips=lambda f: ", ".join(sorted(f)))
        .reset_index()
        .sort_values(["count", "true"], ascending=[False, True])
    )
    headline = {
        "split": report.get("split"),
        "clips": len(predictions),
        "gloss top-1": report["gloss"]["top1"],
        "gloss top-5": report["gloss"].get("top5"),
        **({"category top-1": report["category"]["top1"]} if "category" in report else {}),
    }
    png = folder / "confusion_gloss.png"
    return RunReport(metrics, folder.name, headline, per_class, confusions, png if png.is_file() else None)


def curves(run_dirs: dict[str, Path], column: str) -> pd.DataFrame:
    """``column`` of metrics.csv per epoch, one column per run (for overlays)."""
    series = {}
    for name, path in run_dirs.items():
        if (Path(path) / METRICS_FILE).is_file():
            m = pd.read_csv(Path(path) / METRICS_FILE)
            if column in m:
                series[name] = m.set_index("epoch")[column]
    return pd.DataFrame(series)


def run_clip_dirs(run_dir: Path) -> list[Path]:
    """The folders a run read its clips from (its data config, relative paths from where it was launched)."""
    state = load_checkpoint(find_checkpoint(Path(run_dir), "best"))
    data = state.get("config", {}).get("data", {})
    launch = Path(state.get("launch_dir", "."))
    dirs = []
    for key in ("train_dir", "val_dir", "test_dir"):
        if data.get(key):
            path = Path(data[key]) if Path(data[key]).is_absolute() else launch / data[key]
            if path.is_dir() and path not in dirs:
                dirs.append(path)
    return dirs


def find_clip(name: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        if (folder / f"{name}.npz").is_file():
            return folder / f"{name}.npz"
    return None


# ---------------------------------------------------------------------------------------- clips
@dataclass
class DatasetStats:
    clips: list[str]
    lengths: np.ndarray
    class_counts: pd.Series  # gloss -> clips (when a labels CSV is given)
    occluded_share: float | None


def dataset_stats(folder: Path, labels: Path | None = None) -> DatasetStats:
    """Clip names, lengths (read from the array headers only), class counts and occluded share."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no such folder: {folder}")
    paths = sorted(folder.glob("*.npz"))
    if not paths:
        raise DataError(f"{folder} holds no .npz clips")
    lengths = np.array([(npz_length(p, ["X", "X2048"]) or ("", 0, 0))[1] for p in paths])
    counts, occluded = pd.Series(dtype=int), None
    if labels:
        table = read_label_table(labels)
        gloss = pd.to_numeric(table["gloss"], errors="coerce")
        counts = (gloss.dropna().astype(int) if gloss.notna().all() else table["gloss"]).value_counts().sort_index()
        if "occluded" in table:
            occluded = float(pd.to_numeric(table["occluded"], errors="coerce").fillna(0).mean())
    return DatasetStats([clip_name(p.name) for p in paths], lengths, counts, occluded)


def length_histogram(lengths: np.ndarray, bins: int = 20) -> pd.DataFrame:
    counts, edges = np.histogram(lengths, bins=min(bins, max(1, len(set(lengths.tolist())))))
    return pd.DataFrame({"clips": counts}, index=[f"{int(a)}-{int(b)}" for a, b in zip(edges[:-1], edges[1:])])


def keypoints(path: Path) -> tuple[np.ndarray, np.ndarray | None, float]:
    """A clip's keypoints, detection mask and frame rate (``signlang.figures.skeleton.load_keypoints``)."""
    return load_keypoints(Path(path))


def trajectories(x: np.ndarray, mask: np.ndarray | None) -> pd.DataFrame:
    """Both wrists over time (the pose's, else the hand's own wrist point), NaN where missing."""
    points = x.reshape(len(x), -1, 2)
    present = (points != 0).any(-1) if mask is None else mask
    out = {}
    for side, pose_wrist, hand in (("left", LEFT_WRIST, LEFT_HAND), ("right", RIGHT_WRIST, RIGHT_HAND)):
        for axis, name in ((0, "x"), (1, "y")):
            values = np.where(present[:, pose_wrist], points[:, pose_wrist, axis], np.nan)
            values = np.where(np.isnan(values) & present[:, hand.start], points[:, hand.start, axis], values)
            out[f"{side} wrist {name}"] = values
    return pd.DataFrame(out)


def clip_problems(path: Path) -> list[str]:
    """What ``signlang validate`` finds wrong with one clip."""
    findings, _ = check_clip(Path(path))
    return [f"{f.severity}: {f.message}" for f in findings]


# -------------------------------------------------------------------------------------- predict
def extract_video(video: Path, run_dir: Path, out_dir: Path) -> Path:
    """Extract ``video`` as the run's training clips were, in a spawned process (MediaPipe stays out of
    the app's own process), into ``out_dir/<name>.npz``; raises DataError for a bad video."""
    options = extraction_options(load_run(run_dir), None)
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        record = pool.submit(extract_one, str(video), str(out_dir), Path(video).stem, options).result()
    if record["status"] != "extracted":
        raise DataError(f"{Path(video).name}: {record.get('error', 'could not be extracted')}")
    return Path(out_dir) / record["file"]


def predict(run_dir: Path, clip: Path, top_k: int = 5) -> dict[str, Any]:
    """Top-k glosses and categories of one ``.npz`` clip; raises DataError for a clip that does not fit."""
    (result,) = predict_files(str(run_dir), [str(clip)], top_k=top_k)
    if "error" in result:
        raise DataError(result["error"])
    return result


def video_aspect(video: Path) -> float:
    """Height / width of a video's frames (so its skeleton is drawn to the same shape)."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    width, height = capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
    capture.release()
    return height / width if width and height else 0.75


def person_found(clip: Path) -> bool:
    with np.load(clip, allow_pickle=False) as z:
        return "mask" not in z.files or bool(z["mask"][:, POSE.start : POSE.stop].any())


@contextlib.contextmanager
def upload_dir() -> Iterator[Path]:
    """Where an upload and its extraction go while they are read: a temp folder, never a run folder,
    removed afterwards (the page reruns on every click; each rerun's copy would stay in /tmp)."""
    with tempfile.TemporaryDirectory(prefix="signlang-app-") as work:
        yield Path(work)


# ----------------------------------------------------------------------------------- live camera
def rejection_note(result: dict[str, Any]) -> str:
    r = result.get("rejection") or {}
    return f"rejection score {r.get('score', float('nan')):.2f} below the run's threshold {r.get('threshold', 0):.2f}"


class LiveSession:
    """One browser session's camera: a :class:`LiveWorker` for one run, and the frame callback that
    feeds it and draws the newest skeleton and answer over the picture."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.worker = LiveWorker(str(run_dir)).__enter__()

    def on_frame(self, frame):
        """streamlit-webrtc's ``video_frame_callback`` (its own thread): the picture back, drawn on."""
        import av

        image = frame.to_ndarray(format="rgb24")
        self.worker.submit(image)
        if self.worker.keypoints is not None:
            points, mask = self.worker.keypoints
            last = self.worker.signs[-1].answer["answer"] if self.worker.signs else None
            image = draw_frame(points.reshape(-1, 2), mask, label=last, background=image)
        return av.VideoFrame.from_ndarray(image, format="rgb24")

    def close(self) -> None:
        self.worker.close()


def live_session(state, run_dir: Path) -> LiveSession:
    """The session's live worker for ``run_dir``: made once, replaced when another run is picked."""
    session = state.get("live")
    if session is not None and (session.run_dir != Path(run_dir) or not session.worker.alive()):
        session.close()
        session = None
    if session is None:
        session = state["live"] = LiveSession(run_dir)
    return session


def live_rows(signs: list) -> list[dict[str, Any]]:
    """The signs found so far, newest first, as table rows; a sign shown for the first time gets
    ``shown_s``: the time from the hands going down to now, when the page shows its answer."""
    rows = []
    for sign in signs:
        if sign.shown_s is None and sign.hands_down_at is not None:
            sign.shown_s = time.monotonic() - sign.hands_down_at
    for number, sign in reversed(list(enumerate(signs, 1))):
        best = sign.answer["gloss"][0]
        rows.append(
            {
                "#": number,
                "sign": sign.answer["answer"],
                "confidence": f"{best['confidence']:.2f}",
                "nearest": best["label"],
                "at (s)": f"{sign.start_s:.1f}-{sign.end_s:.1f}",
                "answered after (s)": "" if sign.latency_s is None else f"{sign.latency_s:.2f}",
                "shown after (s)": "" if sign.shown_s is None else f"{sign.shown_s:.2f}",
            }
        )
    return rows


def live_status(worker: LiveWorker) -> str:
    s = worker.stats.summary()
    ms = s["extract_ms"]["median"] if s["extract_ms"] else float("nan")
    return (
        f"{s['processed']} frames read ({ms:.0f} ms each), {s['dropped']} dropped while busy; "
        f"{len(worker.signs)} sign(s)"
    )

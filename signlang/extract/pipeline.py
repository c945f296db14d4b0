"""Videos to ``.npz`` clips plus a labels CSV skeleton (``signlang extract``).

Per clip ``<name>.npz`` with ``X [T,156]`` + ``mask [T,78]`` (``--keypoints``, the default),
``X2048 [T,2048]`` (``--features``), ``timestamps_ms [T]`` and ``meta`` (JSON). Clips already
extracted are skipped (``--overwrite`` redoes them); an unreadable video is reported and skipped.
The ``labels.csv`` skeleton lists every clip with its ``occluded`` flag and, with ``--labels``,
its gloss and category.
"""

from __future__ import annotations

import functools
import json
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from signlang import __version__
from signlang.core.errors import ConfigError, DataError, SignlangError
from signlang.core.files import atomic_write
from signlang.core.layout import FACE_MESH_INDICES, ORDER
from signlang.core.video import VIDEO_SUFFIXES, VideoError, clip_id, find_videos, read_video
from signlang.extract.features import InceptionFeatures
from signlang.extract.holistic import HolisticKeypoints, fill_gaps, import_mediapipe
from signlang.extract.labels import LabelMap, write_labels
from signlang.extract.occlusion import hand_over_face
from signlang.models.inception import IMAGENET, inception_backbone

log = logging.getLogger(__name__)


@dataclass
class Options:
    keypoints: bool = True
    features: bool = False
    fps: float | None = 30.0
    max_gap: int = 5
    visibility: float = 0.5
    iv3_weights: str | None = None
    random_weights: bool = False
    overwrite: bool = False
    occlusion_overlap: float = 0.3
    occlusion_frames: float = 0.1
    skip_partial: bool = False  # a truncated or damaged video is not written (else written and named "partial")
    frames: tuple[int, int] | None = None  # only source frames first..last (1-based; last -1: to the end)


def clip_name(video: Path, src: Path) -> str:
    """Output name: the video's path below ``src`` without suffix, folders joined by ``__`` (``clip_id``)."""
    return clip_id(video.relative_to(src) if src.is_dir() else video.name)


@functools.lru_cache(maxsize=1)
def inception(weights: str | None, random_weights: bool):
    """One InceptionV3 per process (each extraction worker builds it on its first video)."""
    return InceptionFeatures(weights, random_weights)


def extract_arrays(video: Path, options: Options) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """One video's arrays (``X``, ``mask``, ``X2048``, ``timestamps_ms``) and its ``meta`` record; raises
    for a video that cannot be read (or, with ``skip_partial``, read only in part). ``meta["partial"]``
    says why a video decoded only in part. ``signlang extract`` saves them; ``signlang predict`` feeds
    them on."""
    decoded = read_video(Path(video), options.fps, frames=options.frames)
    if decoded.partial and options.skip_partial:
        raise VideoError(f"partial: {decoded.partial}; not written (--skip-partial)")
    frames = decoded.frames
    arrays: dict[str, np.ndarray] = {"timestamps_ms": decoded.timestamps_ms}
    meta: dict[str, Any] = {
        "video": str(video),
        "source_fps": decoded.source_fps,
        "target_fps": options.fps,
        "frames": len(frames),
        "expected_frames": decoded.expected_frames,
        "decoded_frames": decoded.decoded_frames,
        "partial": decoded.partial,
        **({"source_frames": list(options.frames)} if options.frames else {}),
        "decoder_messages": decoded.decoder_messages[:5],
        "order": ORDER,
        "pose_indices": list(range(25)),
        "face_indices": list(FACE_MESH_INDICES),
        "signlang": __version__,
    }
    if options.keypoints:
        x, mask = HolisticKeypoints(options.visibility)(frames)
        x, mask, filled = fill_gaps(x, mask, options.max_gap)
        occluded, share = hand_over_face(x, mask, options.occlusion_overlap, options.occlusion_frames)
        arrays.update(X=x, mask=mask)
        meta.update(
            mediapipe=import_mediapipe().__version__,
            model_complexity=1,
            conf_thresh=options.visibility,
            interpolation_max_gap=options.max_gap,
            interpolated_points=filled,
            occluded=occluded,
            hand_over_face_share=round(share, 4),
            occlusion_overlap=options.occlusion_overlap,
            occlusion_frames=options.occlusion_frames,
        )
    if options.features:
        arrays["X2048"] = inception(options.iv3_weights, options.random_weights)(frames)
        meta.update(
            torch=torch.__version__,
            iv3_weights=options.iv3_weights or ("random" if options.random_weights else IMAGENET),
        )
    return arrays, meta


def extract_one(video: str, out: str, name: str, options: Options) -> dict[str, Any]:
    """Extract one video into ``<out>/<name>.npz``; returns a record for the summary (never raises for a bad video)."""
    started = time.perf_counter()
    target = Path(out) / f"{name}.npz"
    try:
        arrays, meta = extract_arrays(Path(video), options)
        arrays["meta"] = np.array(json.dumps(meta))
        atomic_write(target, lambda f: np.savez_compressed(f, **arrays))  # an interrupted run leaves no half file
        return {
            "video": video,
            "file": target.name,
            "status": "partial" if meta["partial"] else "extracted",
            "partial": meta["partial"],
            "frames": meta["frames"],
            "occluded": meta.get("occluded", 0),
            "seconds": time.perf_counter() - started,
        }
    except SignlangError as e:
        return {"video": video, "file": target.name, "status": "failed", "error": str(e)}
    except Exception as e:  # a decoder or model crash on one video must not end the batch
        return {"video": video, "file": target.name, "status": "failed", "error": f"{type(e).__name__}: {e}"}


def _init_worker() -> None:
    torch.set_num_threads(1)  # processes, not threads, share the cores


def previous_record(target: Path) -> dict[str, Any]:
    """What an already extracted clip says about itself (for the labels skeleton)."""
    try:
        with np.load(target, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
            frames = len(z["timestamps_ms"]) if "timestamps_ms" in z.files else 0
    except (OSError, ValueError, KeyError):
        return {"file": target.name, "status": "failed", "error": "existing file is unreadable; use --overwrite"}
    return {"file": target.name, "status": "skipped", "frames": frames, "occluded": int(meta.get("occluded", 0))}


def extract(
    src: Path,
    out: Path,
    options: Options,
    workers: int = 1,
    labels: str | LabelMap | None = None,
    console: Console | None = None,
) -> list[dict[str, Any]]:
    """Extract every video of ``src`` into ``out``; returns one record per video."""
    console = console or Console(stderr=True)
    label_map = labels if isinstance(labels, LabelMap) else LabelMap(labels)
    check_options(options)
    videos = find_videos(src)
    if not videos:
        raise DataError(f"{src}: no videos ({', '.join(s[1:] for s in VIDEO_SUFFIXES[:4])}, ...)")
    started = time.perf_counter()
    records = run_jobs([(v, out, clip_name(v, src), options) for v in videos], workers, console)
    labels_path = write_labels(out, records, label_map)
    summarize(records, out, labels_path, time.perf_counter() - started, console)
    return records


def check_options(options: Options) -> None:
    """What must hold before any video is read (one clear message, not one per video)."""
    if not (options.keypoints or options.features):
        raise ConfigError("nothing to extract: give --keypoints and/or --features")
    if options.features and not (options.iv3_weights or options.random_weights):
        inception_backbone(IMAGENET)  # ImageNet weights in torch's cache (or downloaded now), else one clear message
    if options.iv3_weights and not Path(options.iv3_weights).is_file():
        raise ConfigError(f"--iv3-weights {options.iv3_weights}: no such file")


def run_jobs(
    jobs: list[tuple[Path, Path, str, Options]], workers: int = 1, console: Console | None = None
) -> list[dict[str, Any]]:
    """Extract each ``(video, out folder, clip name, options)`` in worker processes (a clip already
    there is kept unless ``options.overwrite``); one record per job, in no particular order."""
    console = console or Console(stderr=True)
    records, todo = [], []
    for video, out, name, options in jobs:
        Path(out).mkdir(parents=True, exist_ok=True)
        target = Path(out) / f"{name}.npz"
        if target.exists() and not options.overwrite:
            records.append({"video": str(video), **previous_record(target)})
        else:
            todo.append((str(video), str(out), name, options))
    if not todo:
        return records
    columns = (
        TextColumn("[bold]extract"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[last]}"),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("extract", total=len(todo), last="")
        # Always in worker processes, even one: MediaPipe's native logging is filtered per process
        # (signlang.extract.holistic), away from the progress bar this process draws. Spawned, not
        # forked: a process that has run MediaPipe itself (signlang predict, the app) cannot fork it.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=max(1, min(workers, len(todo))), initializer=_init_worker, mp_context=spawn
        ) as pool:
            for future in as_completed([pool.submit(extract_one, *job) for job in todo]):
                records.append(future.result())
                progress.update(task, advance=1, last=records[-1]["file"])
    return records


def summarize(records: list[dict[str, Any]], out: Path, labels_path: Path, seconds: float, console: Console) -> None:
    """The table after an extraction, then every video that decoded only in part or failed, by name."""
    counts = {s: sum(r["status"] == s for r in records) for s in ("extracted", "partial", "skipped", "failed")}
    table = Table(title=f"signlang extract -> {out}", show_header=False)
    table.add_row("videos", str(len(records)))
    table.add_row("extracted", str(counts["extracted"]))
    partial = f"[yellow]{counts['partial']}[/] (written; --skip-partial leaves them out)" if counts["partial"] else "0"
    table.add_row("partial: decoding stopped early", partial)
    table.add_row("already there (skipped)", str(counts["skipped"]))
    table.add_row("failed", f"[red]{counts['failed']}" if counts["failed"] else "0")
    table.add_row("frames", str(sum(r.get("frames", 0) for r in records)))
    table.add_row("occluded clips", str(sum(r.get("occluded", 0) for r in records if r["status"] != "failed")))
    table.add_row("time", f"{seconds:.1f} s")
    table.add_row("labels", str(labels_path))
    console.print(table)
    for r in records:
        name = Path(r["video"]).name if "video" in r else r["file"]
        if r["status"] == "partial":
            console.print(f"[yellow]partial[/] {name}: {r['partial']}; written as {r['file']}")
        elif r["status"] == "failed":
            console.print(f"[red]skipped[/] {name}: {r['error']}")

"""Signs in a longer video or keypoint stream (``signlang predict RUN FILE --stream``), and how well a
run finds and reads them (``signlang evaluate RUN --streams``).

A stream is cut where the signer's hands are down (``signlang.data.segments``); each span, with a
little rest either side, is classified like a clip, and answered ``unknown`` when the run's
rejection score says it is none of its glosses. To measure this without long recordings, streams
are made of a split's own clips put end to end in random order, rest frames and all: each clip is
one true sign, and the clips classified one by one are the yardstick for the signs read in a stream.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from signlang.core.errors import ConfigError, DataError
from signlang.core.files import atomic_write
from signlang.core.layout import ARRAY_KEYS, detected_points
from signlang.core.video import is_video
from signlang.data.clips import ClipSet
from signlang.data.npz import read_clip
from signlang.data.segments import CLOSE_GAP_S, CONTEXT_S, MIN_SIGN_S, Segment, find_segments, match, regions
from signlang.evaluation.evaluate import LoadedRun, fresh_dir, load_run
from signlang.evaluation.live import LiveRecognizer
from signlang.evaluation.predict import answers, classify, clip_set, extract_video, extraction_options, input_keys
from signlang.runs.record import EVAL_DIR
from signlang.training.runtime import resolve_device

log = logging.getLogger(__name__)
IOU = 0.5  # a found sign matches a true one when they overlap this much (intersection over union)
SEGMENT_COLUMNS = ("start_s", "end_s", "start_frame", "stop_frame", "answer", "confidence", "known", "top")


def segment_settings(close_gap_s: float = CLOSE_GAP_S, min_sign_s: float = MIN_SIGN_S, context_s: float = CONTEXT_S):
    """The segmenter's settings as keyword arguments (the defaults are ``signlang.data.segments``')."""
    return {"close_gap_s": close_gap_s, "min_sign_s": min_sign_s, "context_s": context_s}


def read_stream(
    run: LoadedRun, path: Path, iv3_weights: str | None = None, save_npz: Path | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(x, mask, fps)`` of a video (extracted as the run's clips were) or a long ``.npz``: what the
    model reads, where the keypoints were found (segmentation reads the hands), and the frame rate."""
    key, fallback = input_keys(run)
    kind = run.model.input_kind
    if is_video(path):
        options = extraction_options(run, iv3_weights)
        arrays = extract_video(path, options, save_npz)
        return arrays[ARRAY_KEYS[kind][0]], arrays["mask"], float(options.fps or run.fps)
    clip = read_clip(path, kind, key, fallback)
    with np.load(path, allow_pickle=False) as z:
        mask = z["mask"].astype(bool) if "mask" in z.files else None
        meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
        stamps = z["timestamps_ms"] if "timestamps_ms" in z.files else None
    if mask is None:
        if kind != "keypoints":
            raise DataError(f"{path.name}: no 'mask' array, so no way to see where the hands are; give the video")
        mask = detected_points(clip.x)
    fps = meta.get("target_fps")
    if not fps and stamps is not None and len(stamps) > 1:
        fps = 1000.0 / float(np.median(np.diff(stamps)))
    return clip.x, mask, float(fps or run.fps)


def classify_segments(
    run: LoadedRun, x: np.ndarray, mask: np.ndarray, segments: list[Segment], fps: float, device, top_k: int = 5
) -> list[dict[str, Any]]:
    """One row per found sign: when (seconds and frames), the answer and its top-k."""
    if not segments:
        return []
    windows = [slice(s.context_start, s.context_stop) for s in segments]
    masks = [mask[w] for w in windows] if run.model.input_kind == "keypoints" else [None] * len(windows)
    clips = clip_set([x[w] for w in windows], masks, [f"sign_{i}" for i in range(len(windows))])
    rows = []
    for s, answer in zip(segments, answers(run, classify(run, clips, device), top_k)):
        rows.append(
            {
                "start_s": round(s.start / fps, 3),
                "end_s": round(s.stop / fps, 3),
                "start_frame": s.start,
                "stop_frame": s.stop,
                **answer,
            }
        )
    return rows


def predict_stream(
    run_dir: str,
    file: str,
    top_k: int = 5,
    checkpoint: str = "best",
    device: str = "auto",
    iv3_weights: str | None = None,
    save_npz: str | None = None,
    **settings: float,
) -> dict[str, Any]:
    """The signs of one long video or ``.npz``: ``{"file", "fps", "frames", "signs": [row, ...]}``."""
    path = Path(file)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    dev = resolve_device(device)
    run = load_run(run_dir, checkpoint, dev)
    save_dir = Path(save_npz) if save_npz else None
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
    x, mask, fps = read_stream(run, path, iv3_weights, save_dir)
    segments = find_segments(mask, fps, **segment_settings(**settings))
    signs = classify_segments(run, x, mask, segments, fps, dev, top_k)
    if run.rejector is None:
        log.warning("%s has no rejection threshold: every sign found gets a gloss (signlang calibrate)", run.path)
    return {"file": str(path), "fps": fps, "frames": len(x), "signs": signs}


def flat_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A timeline as CSV rows: one per sign, the top-k as ``label:confidence;...``."""
    out = []
    for sign in result["signs"]:
        best = sign["gloss"][0]
        out.append(
            {
                **{k: sign[k] for k in ("start_s", "end_s", "start_frame", "stop_frame", "answer", "known")},
                "confidence": round(best["confidence"], 4),
                "top": ";".join(f"{g['label']}:{g['confidence']:.4f}" for g in sign["gloss"]),
            }
        )
    return out


def write_timeline(result: dict[str, Any], target: Path) -> None:
    """``--csv FILE``: the timeline as CSV (atomically)."""
    rows = flat_rows(result)

    def write(f) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(SEGMENT_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
        f.write(text.getvalue().encode())

    atomic_write(target, write)


# ----------------------------------------------------------------------------- measured streams
def read_live(
    run: LoadedRun, xs: list[np.ndarray], masks: list[np.ndarray], fps: float, live_fps: float, device, settings
) -> tuple[list[tuple[int, Segment]], list[dict[str, Any]]]:
    """Each stream (frames at ``fps``) played to a :class:`LiveRecognizer` at ``live_fps``: the
    signs it found (in the stream's frames) and its answers."""
    found, read = [], []
    scale = fps / live_fps
    for s, (x, mask) in enumerate(zip(xs, masks)):
        recognizer = LiveRecognizer(run, live_fps, device, top_k=1, **settings)
        signs = []
        for k in range(int(len(x) / scale)):
            i = min(len(x) - 1, int(round(k * scale)))
            signs.append(recognizer.push(x[i], mask[i], arrived=k / live_fps))
        signs.append(recognizer.flush())
        for sign in filter(None, signs):
            start, stop = int(round(sign.start * scale)), min(len(x), int(round(sign.stop * scale)))
            found.append((s, Segment(start, stop, start, stop)))
            read.append(sign.answer)
    return found, read


def make_streams(n: int, rng: np.random.Generator, min_signs: int, max_signs: int, rounds: int) -> list[list[int]]:
    """Streams of ``min_signs``..``max_signs`` clips each: every one of the ``n`` clips once per round,
    in random order (a round's last stream may be shorter when too few clips are left)."""
    if not 1 <= min_signs <= max_signs:
        raise ConfigError(f"streams need 1 <= min signs <= max signs, got {min_signs}..{max_signs}")
    streams = []
    for _ in range(rounds):
        order = list(rng.permutation(n))
        while order:
            k = int(rng.integers(min_signs, max_signs + 1))
            streams.append([int(i) for i in order[:k]])
            order = order[k:]
    return streams


def evaluate_streams(
    run: LoadedRun,
    clips: ClipSet,
    name: str,
    device,
    *,
    seed: int = 0,
    min_signs: int = 3,
    max_signs: int = 10,
    rounds: int = 1,
    live_fps: float | None = None,
    **settings: float,
) -> dict[str, Any]:
    """Put ``clips`` end to end into streams, find and read their signs, and write
    ``eval/<name>_streams/`` (``metrics.json``, ``signs.csv``); returns the metrics.

    A found sign's stretch of the stream (cut halfway to its neighbours, :func:`regions`) matches a
    clip at IoU >= 0.5; precision is the share of found signs that match a clip, recall the share
    of clips matched. Matched signs are read against the same clips classified one by one.
    ``live_fps``: read the streams as the live camera path does (``signlang.evaluation.live``), a
    frame at a time at that rate, each sign as soon as it has ended.
    """
    if clips.mask_buffer is None and run.model.input_kind != "keypoints":
        raise DataError("streams need keypoint masks (where the hands are); these clips have none")
    fps = run.fps
    settings = segment_settings(**settings)
    rng = np.random.default_rng(seed)
    streams = make_streams(len(clips), rng, min_signs, max_signs, rounds)
    alone = answers(run, classify(run, clips, device), 1)
    alone_pred = np.array([a["gloss"][0]["id"] for a in alone])
    alone_known = np.array([a["known"] for a in alone])

    xs, masks, truths = [], [], []
    for members in streams:
        x = np.concatenate([clips.clip(i) for i in members])
        mask = (
            np.concatenate([clips.mask_buffer[clips.offsets[i] : clips.offsets[i + 1]] for i in members])
            if clips.mask_buffer is not None
            else detected_points(x)
        )
        bounds = np.cumsum([0] + [int(clips.lengths[i]) for i in members])
        truths.append([(int(bounds[j]), int(bounds[j + 1])) for j in range(len(members))])
        xs.append(x)
        masks.append(mask)
    if live_fps:
        found_all, read = read_live(run, xs, masks, fps, live_fps, device, settings)
    else:
        found_all = [(s, seg) for s, mask in enumerate(masks) for seg in find_segments(mask, fps, **settings)]
        # every found sign of every stream classified in one go
        windows = [(s, slice(seg.context_start, seg.context_stop)) for s, seg in found_all]
        keypoints = run.model.input_kind == "keypoints"
        segment_clips = clip_set(
            [xs[s][w] for s, w in windows],
            [masks[s][w] if keypoints else None for s, w in windows],
            [f"stream{s}_{w.start}" for s, w in windows],
        )
        read = answers(run, classify(run, segment_clips, device), 1) if windows else []

    rows, matched_pairs = [], []
    inside = []
    for s, members in enumerate(streams):
        idx = [k for k, (t, _) in enumerate(found_all) if t == s]
        spans = [(found_all[k][1].start, found_all[k][1].stop) for k in idx]
        pairs = dict(match(regions(spans, len(xs[s])), truths[s], IOU))
        for j, k in enumerate(idx):
            seg, answer = found_all[k][1], read[k]
            clip = members[pairs[j]] if j in pairs else None
            if clip is not None:
                matched_pairs.append((k, clip))
                a, b = truths[s][pairs[j]]
                inside.append(max(0, min(seg.stop, b) - max(seg.start, a)) / (seg.stop - seg.start))
            rows.append(
                {
                    "stream": s,
                    "start_frame": seg.start,
                    "stop_frame": seg.stop,
                    "clip": "" if clip is None else clips.names[clip],
                    "true": "" if clip is None else run.gloss_names[clips.gloss[clip]],
                    "answer": answer["answer"],
                    "predicted": answer["gloss"][0]["label"],
                    "confidence": round(answer["gloss"][0]["confidence"], 4),
                    "alone": "" if clip is None else run.gloss_names[alone_pred[clip]],
                }
            )

    n_true, n_found, n_matched = sum(len(t) for t in truths), len(found_all), len(matched_pairs)
    k_idx = np.array([k for k, _ in matched_pairs], dtype=int)
    c_idx = np.array([c for _, c in matched_pairs], dtype=int)
    seg_pred = np.array([read[k]["gloss"][0]["id"] for k in k_idx], dtype=int)
    seg_known = np.array([read[k]["known"] for k in k_idx], dtype=bool)
    truth = clips.gloss[c_idx]
    members_all = np.concatenate([np.array(m, dtype=int) for m in streams])

    def share(v: np.ndarray) -> float | None:
        return float(np.mean(v)) if len(v) else None

    metrics = {
        "split": name,
        "checkpoint": run.checkpoint_path.stem.rsplit("_", 1)[-1],
        "epoch": run.state.get("epoch"),
        "streams": len(streams),
        "signs_per_stream": [min_signs, max_signs],
        "rounds": rounds,
        "seed": seed,
        "fps": fps,
        "segmenter": settings,
        "read": f"live, {live_fps:g} frames a second" if live_fps else "recorded",
        "iou": IOU,
        "true_signs": n_true,
        "found_signs": n_found,
        "matched": n_matched,
        "precision": n_matched / n_found if n_found else None,
        "recall": n_matched / n_true if n_true else None,
        "found_span_inside_its_clip": share(np.array(inside)),
        "gloss_accuracy_matched": share(seg_pred == truth),
        "gloss_accuracy_alone_same_clips": share(alone_pred[c_idx] == truth),
        "gloss_accuracy_alone_all_clips": share(alone_pred[members_all] == clips.gloss[members_all]),
        "signs_read_correctly": (int((seg_pred == truth).sum()) / n_true) if n_true else None,
    }
    if run.rejector is not None:
        metrics["rejection"] = {
            "score": run.rejector.score,
            "unknown_matched": share(~seg_known),
            "unknown_alone_same_clips": share(~alone_known[c_idx]),
            "accuracy_matched_with_rejection": share((seg_pred == truth) & seg_known),
            "accuracy_alone_with_rejection": share((alone_pred[c_idx] == truth) & alone_known[c_idx]),
        }
    out_dir = fresh_dir(Path(run.path) / EVAL_DIR / f"{name}_streams")
    out_dir.mkdir(parents=True)
    text = json.dumps(metrics, indent=2) + "\n"
    atomic_write(out_dir / "metrics.json", lambda f: f.write(text.encode()))
    with open(out_dir / "signs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["stream"])
        writer.writeheader()
        writer.writerows(rows)
    metrics["report"] = str(out_dir.relative_to(run.path))
    log.info(
        "%s streams (%d, %d signs): precision %.3f recall %.3f; matched signs read %.3f (clips alone %.3f) -> %s",
        name,
        len(streams),
        n_true,
        metrics["precision"] or 0.0,
        metrics["recall"] or 0.0,
        metrics["gloss_accuracy_matched"] or 0.0,
        metrics["gloss_accuracy_alone_same_clips"] or 0.0,
        out_dir,
    )
    return metrics

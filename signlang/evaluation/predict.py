"""Predict the gloss and category of clips, or of videos, with a trained run (``signlang predict``).

A video is first extracted the way the run's training clips were (their settings travel in the
checkpoint: frame rate, MediaPipe settings, gap filling, InceptionV3 weights), then predicted like a
clip. A video in which nobody is found gets a message instead of a prediction.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from signlang.core.errors import ConfigError, DataError
from signlang.core.files import atomic_write
from signlang.core.layout import ARRAY_KEYS, POSE
from signlang.core.video import is_video
from signlang.data.clips import ClipSet
from signlang.data.labels import has_categories
from signlang.data.loader import eval_batches
from signlang.data.npz import ClipArrays, check_arrays, read_clip
from signlang.evaluation.evaluate import LoadedRun, load_run
from signlang.extract.pipeline import Options, extract_arrays
from signlang.models.inception import IMAGENET
from signlang.models.rejection import UNKNOWN, Outputs, infer, softmax
from signlang.training.runtime import resolve_device

log = logging.getLogger(__name__)


def extraction_options(run: LoadedRun, iv3_weights: str | None = None):
    """How to extract a video for this run: the settings its training clips were extracted with (the
    defaults of ``signlang extract`` when the run does not record them)."""
    settings = run.state.get("extraction") or {}
    if not settings:
        log.warning(
            "%s does not record how its training clips were extracted; videos are extracted with the defaults", run.path
        )
    features = run.model.input_kind == "features"
    weights, random_weights = iv3_weights, False
    if features and not weights:
        recorded = settings.get("iv3_weights", IMAGENET)
        random_weights = recorded == "random"  # a run trained on meaningless features predicts from the same kind
        if recorded not in (IMAGENET, "random"):
            if not Path(recorded).is_file():
                raise ConfigError(
                    f"the run's features came from the InceptionV3 weights {recorded}, which are not there; "
                    "give --iv3-weights FILE"
                )
            weights = recorded
    defaults = Options()
    return Options(
        keypoints=True,  # also for feature models: whether a person is in the video at all
        features=features,
        fps=settings.get("target_fps", defaults.fps),
        max_gap=settings.get("interpolation_max_gap", defaults.max_gap),
        visibility=settings.get("conf_thresh", defaults.visibility),
        iv3_weights=weights,
        random_weights=random_weights,
        occlusion_overlap=settings.get("occlusion_overlap", defaults.occlusion_overlap),
        occlusion_frames=settings.get("occlusion_frames", defaults.occlusion_frames),
    )


def input_keys(run: LoadedRun) -> tuple[str, str | None]:
    """The array a ``.npz`` holds the run's input in, and its fallback: as the run read its training
    clips (``data.key``)."""
    kind = run.model.input_kind
    if kind not in ARRAY_KEYS:
        raise ConfigError(
            f"this run's model reads {kind}; signlang predict takes videos or .npz clips of keypoints or features"
        )
    key, fallback = ARRAY_KEYS[kind]
    return run.config.data.get("key", key), run.config.data.get("fallback_key", fallback)


def extract_video(video: Path, options, save_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Extract ``video`` (``--save-npz``: keep the ``.npz`` in ``save_dir``); raises DataError when
    nobody is in it."""
    log.info("extracting %s", video.name)
    arrays, meta = extract_arrays(video, options)
    if meta["partial"]:
        log.warning("%s: %s; predicting from the frames that decoded", video.name, meta["partial"])
    if not arrays["mask"][:, POSE.start : POSE.stop].any():
        raise DataError(
            f"{video.name}: no person found in the video (no body landmarks in any of its {len(arrays['mask'])} frames)"
        )
    if save_dir is not None:
        target = save_dir / f"{video.stem}.npz"
        saved = {**arrays, "meta": np.array(json.dumps(meta))}
        atomic_write(target, lambda f: np.savez_compressed(f, **saved))
        log.info("saved %s", target)
    return arrays


def video_clip(video: Path, kind: str, options, save_dir: Path | None = None) -> ClipArrays:
    """Extract ``video`` and return the array the model reads; raises DataError when nobody is in it."""
    arrays = extract_video(video, options, save_dir)
    key = ARRAY_KEYS[kind][0]
    return check_arrays(video, kind, key, arrays[key], arrays["mask"] if kind == "keypoints" else None)


def predict_files(
    run_dir: str,
    files: list[str],
    top_k: int = 5,
    checkpoint: str = "best",
    device: str = "auto",
    iv3_weights: str | None = None,
    save_npz: str | None = None,
) -> list[dict[str, Any]]:
    """One dict per file: the top-k glosses and categories with their confidences, or the ``error``
    that kept it from a prediction (a video with nobody in it)."""
    dev = resolve_device(device)
    run = load_run(run_dir, checkpoint, dev)
    kind = run.model.input_kind
    key, fallback = input_keys(run)
    paths = [Path(f) for f in files]
    for path in paths:
        if not path.is_file():
            raise DataError(f"no such file: {path}")
    options = extraction_options(run, iv3_weights) if any(is_video(p) for p in paths) else None
    save_dir = Path(save_npz) if save_npz else None
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
    clips, errors = {}, {}
    for path in paths:
        try:
            clips[path] = (
                video_clip(path, kind, options, save_dir) if is_video(path) else read_clip(path, kind, key, fallback)
            )
        except DataError as e:
            if not is_video(path):
                raise DataError(f"{e} (this model reads {kind} from {key!r})") from None
            errors[path] = str(e)
    results: dict[Path, dict[str, Any]] = {p: {"file": str(p), "error": e} for p, e in errors.items()}
    if clips:
        masks = [c.mask for c in clips.values()]
        batch = clip_set([c.x for c in clips.values()], masks, [p.name for p in clips])
        for path, answer in zip(clips, answers(run, classify(run, batch, dev), top_k)):
            results[path] = {"file": str(path), **answer}
    return [results[p] for p in paths]


def clip_set(xs: list[np.ndarray], masks: list[np.ndarray | None], names: list[str]) -> ClipSet:
    """Unlabelled clips as one ClipSet (labels 0), with their detection masks when all have one."""
    zeros = [0] * len(xs)
    return ClipSet.from_clips(xs, zeros, zeros, zeros, names, masks if all(m is not None for m in masks) else None)


def classify(run: LoadedRun, clips: ClipSet, device) -> Outputs:
    """The run's model over ``clips`` (normalised as its training clips were, never augmented)."""
    return infer(run.model, eval_batches(clips, run.transform), device)


def answers(run: LoadedRun, outputs: Outputs, top_k: int = 5) -> list[dict[str, Any]]:
    """Per clip: ``answer`` (the best gloss, or ``unknown`` when the run's rejection score says it is
    none of them), whether it is ``known``, the ``rejection`` score, and the top-k glosses and
    categories with their confidences (no ``category`` for a dataset without categories)."""
    rejector = run.rejector
    scores = rejector.scores(outputs) if rejector is not None else None
    gloss_probs, cat_probs = softmax(outputs.gloss_logits), softmax(outputs.cat_logits)
    out = []
    for i, (g, c) in enumerate(zip(gloss_probs, cat_probs)):
        gloss = top(g, run.gloss_names, top_k)
        known = scores is None or bool(scores[i] >= rejector.threshold)
        answer = {
            "answer": gloss[0]["label"] if known else UNKNOWN,
            "known": known,
            "rejection": None if scores is None else {"score": float(scores[i]), "threshold": rejector.threshold},
            "gloss": gloss,
        }
        if has_categories(run.cat_names):
            answer["category"] = top(c, run.cat_names, top_k)
        out.append(answer)
    return out


def top(probs: np.ndarray, names: list[str], k: int) -> list[dict[str, Any]]:
    order = np.argsort(-probs)[:k]
    return [{"label": names[i], "id": int(i), "confidence": float(probs[i])} for i in order]

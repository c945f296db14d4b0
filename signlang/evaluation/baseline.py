"""A 1-nearest-neighbour baseline on the data a config trains on (``signlang baseline``).

The overrides are those of ``python run.py``: the same data, splits and normalisation. Each clip
is normalised by the config's ``transform.normalize``, resampled to ``--frames`` evenly spaced
frames, flattened and standardised with training statistics (undetected points stay 0). A test
clip takes the gloss and category of the closest training clip (Euclidean distance); the top-5 are
the five classes with the closest clips. It is the number a learned model has to beat by a wide
margin before its extra machinery means anything.
"""

from __future__ import annotations

import numpy as np

from signlang.data.clips import ClipSet
from signlang.evaluation.metrics import evaluation_report


def clip_vectors(clips: ClipSet, frames: int = 32) -> np.ndarray:
    """One ``[frames * D]`` vector per clip: its frames linearly resampled to ``frames`` steps."""
    out = np.zeros((len(clips), frames, clips.width), dtype=np.float32)
    for i in range(len(clips)):
        x = np.asarray(clips.clip(i), dtype=np.float32)
        at = np.linspace(0, len(x) - 1, frames)
        lo = np.floor(at).astype(int)
        hi = np.minimum(lo + 1, len(x) - 1)
        w = (at - lo)[:, None]
        out[i] = x[lo] * (1 - w) + x[hi] * w
    return out.reshape(len(clips), -1)


def class_distances(train: np.ndarray, labels: np.ndarray, query: np.ndarray, num_classes: int) -> np.ndarray:
    """``[queries, classes]``: the distance from each query to the nearest training clip of each class."""
    d = (query**2).sum(1)[:, None] - 2 * query @ train.T + (train**2).sum(1)[None, :]
    out = np.full((len(query), num_classes), np.inf, dtype=np.float64)
    for c in np.unique(labels):
        out[:, c] = d[:, labels == c].min(axis=1)
    return out


def scores(distances: np.ndarray) -> np.ndarray:
    """A probability-like ranking for the shared metrics code: ``1 / (1 + rank)`` of each class by
    distance, normalised (top-k is exact; the values are not calibrated probabilities)."""
    ranks = np.argsort(np.argsort(distances, axis=1, kind="stable"), axis=1)
    p = 1.0 / (1.0 + ranks)
    return p / p.sum(axis=1, keepdims=True)


def nearest_neighbour(train: ClipSet, test: ClipSet, num_gloss: int, num_cat: int, frames: int = 32) -> dict:
    """Top-1/top-5 gloss and top-1 category of 1-NN on ``test`` with ``train`` as the memory."""
    a, b = clip_vectors(train, frames), clip_vectors(test, frames)
    present = a != 0
    mean = np.where(present, a, 0).sum(0) / np.maximum(present.sum(0), 1)
    std = np.sqrt(np.where(present, (a - mean) ** 2, 0).sum(0) / np.maximum(present.sum(0), 1)) + 1e-3
    a, b = np.where(a != 0, (a - mean) / std, 0), np.where(b != 0, (b - mean) / std, 0)
    gloss = scores(class_distances(a, train.gloss, b, num_gloss))
    cat = scores(class_distances(a, train.cat, b, num_cat))
    return evaluation_report(
        gloss,
        test.gloss,
        cat,
        test.cat,
        test.occluded,
        [str(i) for i in range(num_gloss)],
        [str(i) for i in range(num_cat)],
        5,
    )

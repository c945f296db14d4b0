""" "Not a sign I know": a score of how much a clip looks like the glosses a model was trained on,
and the threshold under which its answer becomes ``unknown``.

A softmax always picks one of its glosses, also for a sign outside the vocabulary or in another
language. Each score below is higher for clips like the training clips:

- ``msp``: the largest softmax probability of the gloss head;
- ``energy``: ``logsumexp`` of the gloss logits;
- ``prototype``: cosine similarity of the clip's embedding (what both heads read, ``model.embed``)
  to the nearest class mean of the training clips' embeddings;
- ``knn``: cosine similarity to the ``k``-th nearest training clip.

The threshold is chosen on val (:func:`calibrate`): for a stated false-reject rate on val's known
clips (needs nothing else), or for a stated false-accept rate on clips of signs outside the
vocabulary, when there are some. A :class:`Rejector` travels in the checkpoint as plain tensors and
numbers, so ``weights_only=True`` loads it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from signlang.core.errors import ConfigError

SCORES = ("msp", "energy", "prototype", "knn")
DEFAULT_SCORE = "energy"  # on FSL-105 val: knn's AUROC, fewer false accepts (docs/pages/streams.md)
DEFAULT_FALSE_REJECT = 0.01  # the share of val's known clips the threshold may reject
UNKNOWN = "unknown"  # the answer for a rejected clip: predict, streams and the app show it


@dataclass
class Outputs:
    """What a model says about clips, in the clips' order: logits of both heads, embeddings, and the
    clips' gloss labels (whatever the batches carry: -1 or 0 for unlabelled clips)."""

    gloss_logits: np.ndarray  # [N, num_gloss]
    cat_logits: np.ndarray  # [N, num_cat]
    embeddings: np.ndarray  # [N, D]
    gloss: np.ndarray  # [N]

    def __len__(self) -> int:
        return len(self.gloss)

    @property
    def predicted(self) -> np.ndarray:
        return self.gloss_logits.argmax(axis=1)

    def select(self, keep: np.ndarray) -> Outputs:
        return Outputs(self.gloss_logits[keep], self.cat_logits[keep], self.embeddings[keep], self.gloss[keep])


def embed_and_classify(model: nn.Module, x: torch.Tensor, pad_mask: torch.Tensor, lengths=None):
    """``(gloss_logits, cat_logits, embeddings)`` in one pass: ``forward`` is the heads over ``embed``
    (a model that combines several, ``SignEnsemble``, says itself)."""
    if hasattr(model, "embed_and_classify"):
        return model.embed_and_classify(x, pad_mask, lengths)
    e = model.embed(x, pad_mask, lengths)
    return model.gloss_head(e), model.cat_head(e), e


@torch.no_grad()
def infer(model: nn.Module, batches: Iterable, device: torch.device | str = "cpu") -> Outputs:
    """Run ``model`` over ``batches`` (normalised, never augmented; each with ``index``, its clips'
    places in the split) and return everything in the clips' own order."""
    model.eval()
    parts: list[tuple[np.ndarray, ...]] = []
    for batch in batches:
        batch = batch.to(device)
        g, c, e = embed_and_classify(model, batch.x, batch.pad_mask, batch.lengths)
        parts.append(
            tuple(t.float().cpu().numpy() for t in (g, c, e)) + (batch.gloss.cpu().numpy(), batch.index.cpu().numpy())
        )
    if not parts:
        raise ValueError("no clips to run the model on")
    g, c, e, gloss, index = (np.concatenate(p) for p in zip(*parts))
    order = np.argsort(index, kind="stable")
    return Outputs(g[order], c[order], e[order], gloss[order])


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _logsumexp(logits: np.ndarray) -> np.ndarray:
    m = logits.max(axis=1)
    return m + np.log(np.exp(logits - m[:, None]).sum(axis=1))


def reference_vectors(score: str, train: Outputs, num_gloss: int) -> np.ndarray | None:
    """What a distance score compares with: unit class means of the training embeddings
    (``prototype``; a gloss with no training clip gets a zero row, never nearest) or every
    training embedding (``knn``); None for the scores read off the logits."""
    if score == "prototype":
        unit = _unit(train.embeddings)
        means = np.zeros((num_gloss, unit.shape[1]), np.float32)
        np.add.at(means, train.gloss, unit)
        return _unit(means).astype(np.float32)
    if score == "knn":
        return _unit(train.embeddings).astype(np.float32)
    return None


def compute_scores(
    score: str, outputs: Outputs, reference: np.ndarray | None = None, k: int = 1, exclude_self: bool = False
) -> np.ndarray:
    """``[N]`` scores of ``outputs`` (higher = more like a known sign). ``exclude_self`` skips each
    clip's own row of a ``knn`` reference (scoring the training clips themselves)."""
    if score == "msp":
        return softmax(outputs.gloss_logits).max(axis=1)
    if score == "energy":
        return _logsumexp(outputs.gloss_logits)
    if score not in SCORES:
        raise ConfigError(f"the rejection score must be one of {', '.join(SCORES)}, got {score!r}")
    if reference is None:
        raise ValueError(f"the {score} score needs the training clips' embeddings")
    sims = _unit(outputs.embeddings) @ reference.T
    if score == "prototype":
        return sims.max(axis=1)
    if exclude_self:
        np.fill_diagonal(sims, -np.inf)
    k = min(k, sims.shape[1])
    return -np.sort(-sims, axis=1)[:, k - 1]


def threshold_for_false_reject(known: np.ndarray, rate: float) -> float:
    """The highest threshold that rejects at most ``rate`` of the ``known`` scores (a clip is
    accepted when its score >= threshold)."""
    s = np.sort(known)
    n_rejected = int(math.floor(rate * len(s) + 1e-9))
    return float(s[min(n_rejected, len(s) - 1)]) if n_rejected < len(s) else float(np.inf)


def threshold_for_false_accept(unknown: np.ndarray, rate: float) -> float:
    """The lowest threshold that accepts at most ``rate`` of the ``unknown`` scores."""
    s = np.sort(unknown)[::-1]
    n_accepted = int(math.floor(rate * len(s) + 1e-9))
    return float(np.nextafter(s[n_accepted], np.inf)) if n_accepted < len(s) else float(-np.inf)


@dataclass
class Rejector:
    """A score and its threshold: a clip whose score is below ``threshold`` is ``unknown``."""

    score: str
    threshold: float
    reference: np.ndarray | None = None  # unit vectors [C or N, D] for prototype / knn
    k: int = 1
    calibration: dict[str, Any] = field(default_factory=dict)  # what the threshold was chosen for, on val

    def scores(self, outputs: Outputs) -> np.ndarray:
        return compute_scores(self.score, outputs, self.reference, self.k)

    def known(self, outputs: Outputs) -> np.ndarray:
        """``[N]`` True where the model's answer stands."""
        return self.scores(outputs) >= self.threshold

    def state_dict(self) -> dict[str, Any]:
        """Tensors, numbers and strings only: what a checkpoint holds under ``rejection``."""
        return {
            "score": self.score,
            "threshold": float(self.threshold),
            "reference": None if self.reference is None else torch.from_numpy(np.ascontiguousarray(self.reference)),
            "k": int(self.k),
            "calibration": dict(self.calibration),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Rejector:
        ref = state.get("reference")
        return cls(
            score=state["score"],
            threshold=float(state["threshold"]),
            reference=None if ref is None else ref.cpu().numpy(),
            k=int(state.get("k", 1)),
            calibration=dict(state.get("calibration", {})),
        )


def check_rates(false_reject: float | None, false_accept: float | None) -> None:
    for name, rate in (("false_reject", false_reject), ("false_accept", false_accept)):
        if rate is not None and not 0.0 <= float(rate) < 1.0:
            raise ConfigError(f"the rejection's {name} rate must be in [0, 1), got {rate}")
    if false_reject is None and false_accept is None:
        raise ConfigError("choose the rejection threshold by a false_reject or a false_accept rate")


def calibrate(
    score: str,
    train: Outputs,
    val: Outputs,
    num_gloss: int,
    *,
    false_reject: float | None = DEFAULT_FALSE_REJECT,
    false_accept: float | None = None,
    unknown: Outputs | None = None,
    k: int = 1,
    known_set: str = "val",
) -> Rejector:
    """A :class:`Rejector` from the training clips (the reference of a distance score) and ``val``:
    clips of known glosses the model did not train on (the val split, or ``known_set`` named).

    With ``false_accept`` and ``unknown`` clips (signs outside the vocabulary), the threshold is the
    lowest that accepts at most that share of them; otherwise the highest that rejects at most
    ``false_reject`` of the known clips. ``calibration`` records the rates it gives there either way.
    """
    check_rates(false_reject, false_accept)
    if score not in SCORES:
        raise ConfigError(f"the rejection score must be one of {', '.join(SCORES)}, got {score!r}")
    if false_accept is not None and (unknown is None or len(unknown) == 0):
        raise ConfigError("a false_accept rate needs clips of signs outside the vocabulary (unknown clips)")
    reference = reference_vectors(score, train, num_gloss)
    known_scores = compute_scores(score, val, reference, k)
    unknown_scores = compute_scores(score, unknown, reference, k) if unknown is not None and len(unknown) else None
    if false_accept is not None:
        threshold, criterion = threshold_for_false_accept(unknown_scores, false_accept), "false_accept"
    else:
        threshold, criterion = threshold_for_false_reject(known_scores, false_reject), "false_reject"
    accepted = known_scores >= threshold
    correct = val.predicted == val.gloss
    calibration = {
        "criterion": criterion,
        "target": float(false_accept if criterion == "false_accept" else false_reject),
        "known_set": known_set,  # the keys say val_ whichever clips they are (checkpoints written before read so)
        "val_clips": len(val),
        "val_false_reject": float((~accepted).mean()),
        "val_accuracy": float(correct.mean()),
        "val_accuracy_with_rejection": float((correct & accepted).mean()),
    }
    if unknown_scores is not None:
        calibration.update(unknown_clips=len(unknown), val_false_accept=float((unknown_scores >= threshold).mean()))
    return Rejector(score, threshold, reference, k, calibration)

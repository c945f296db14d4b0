"""Classification metrics on predicted probabilities, as plain NumPy (no framework, easy to check by hand)."""

from __future__ import annotations

from typing import Any

import numpy as np

from signlang.data.labels import has_categories


def topk_hits(probs: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Whether the true class is among the ``k`` most probable ones, per sample (k capped at #classes)."""
    k = min(k, probs.shape[1])
    top = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    return (top == y[:, None]).any(axis=1)


def confusion(y: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts ``[true, predicted]``."""
    return np.bincount(y * num_classes + pred, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def macro_f1(cm: np.ndarray) -> float:
    """Unweighted mean F1 over the classes that occur (as truth or prediction); absent classes are skipped."""
    tp = np.diag(cm).astype(float)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    present = (support + predicted) > 0
    if not present.any():
        return float("nan")
    f1 = 2 * tp[present] / (support[present] + predicted[present])
    return float(f1.mean())


def head_report(probs: np.ndarray, y: np.ndarray, names: list[str], k: int | None = None) -> dict[str, Any]:
    """top-1 (and top-k), macro-F1, NLL and per-class accuracy of one head."""
    pred = probs.argmax(axis=1)
    cm = confusion(y, pred, probs.shape[1])
    support = cm.sum(axis=1)
    report: dict[str, Any] = {"top1": float((pred == y).mean())}
    if k is not None:
        report[f"top{k}"] = float(topk_hits(probs, y, k).mean())
    report["macro_f1"] = macro_f1(cm)
    report["nll"] = float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)).mean())
    report["per_class"] = {
        name: {"accuracy": float(cm[i, i] / support[i]) if support[i] else None, "support": int(support[i])}
        for i, name in enumerate(names)
    }
    return report


def subset_report(
    gloss_probs: np.ndarray, gloss: np.ndarray, cat_probs: np.ndarray | None, cat: np.ndarray, k: int = 5
) -> dict[str, Any]:
    """The headline numbers for a subset of clips (e.g. occluded or not), with its size (``cat_probs``
    None: a dataset without categories, and no ``cat_top1``)."""
    cats = {} if cat_probs is None else {"cat_top1": None}
    if len(gloss) == 0:
        return {"clips": 0, "gloss_top1": None, f"gloss_top{k}": None, "gloss_macro_f1": None, **cats}
    cm = confusion(gloss, gloss_probs.argmax(axis=1), gloss_probs.shape[1])
    out = {
        "clips": int(len(gloss)),
        "gloss_top1": float((gloss_probs.argmax(axis=1) == gloss).mean()),
        f"gloss_top{k}": float(topk_hits(gloss_probs, gloss, k).mean()),
        "gloss_macro_f1": macro_f1(cm),
    }
    if cat_probs is not None:
        out["cat_top1"] = float((cat_probs.argmax(axis=1) == cat).mean())
    return out


def evaluation_report(
    gloss_probs: np.ndarray,
    gloss: np.ndarray,
    cat_probs: np.ndarray,
    cat: np.ndarray,
    occluded: np.ndarray,
    gloss_names: list[str],
    cat_names: list[str],
    k: int = 5,
) -> dict[str, Any]:
    """Everything ``metrics.json`` holds: both heads (the category head only when there are
    categories), and the headline numbers split by ``occluded``."""
    cats = has_categories(cat_names)
    report: dict[str, Any] = {"clips": int(len(gloss)), "gloss": head_report(gloss_probs, gloss, gloss_names, k)}
    if cats:
        report["category"] = head_report(cat_probs, cat, cat_names)
    report["by_occluded"] = {
        str(v): subset_report(
            gloss_probs[occluded == v],
            gloss[occluded == v],
            cat_probs[occluded == v] if cats else None,
            cat[occluded == v],
            k,
        )
        for v in (0, 1)
    }
    return report


# ------------------------------------------------------------------ open set: "not a sign I know"
COVERAGES = (1.0, 0.95, 0.9, 0.8, 0.7, 0.5)


def auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    """The chance that a known clip scores above an unknown one (ties count half): the area under
    the ROC curve of telling them apart, by ranks (Mann-Whitney U)."""
    known, unknown = np.asarray(known, float), np.asarray(unknown, float)
    if len(known) == 0 or len(unknown) == 0:
        return float("nan")
    values = np.concatenate([known, unknown])
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    # average ranks over ties
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2  # 1-based mean rank of the tied block
    u = ranks[: len(known)].sum() - len(known) * (len(known) + 1) / 2
    return float(u / (len(known) * len(unknown)))


def accuracy_at_coverage(scores: np.ndarray, correct: np.ndarray, coverages=COVERAGES) -> dict[str, float]:
    """Accuracy on the ``c`` share of clips the score is surest of, for each coverage ``c``."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    out = {}
    for c in coverages:
        n = max(1, int(round(c * len(order))))
        out[f"{c:.2f}"] = float(np.asarray(correct)[order[:n]].mean()) if len(order) else float("nan")
    return out


def open_set_report(
    known_scores: np.ndarray, known_correct: np.ndarray, unknown_scores: np.ndarray, threshold: float
) -> dict[str, Any]:
    """How well a rejection score with its ``threshold`` tells the known clips (``known_correct``: the
    gloss was right) from clips of signs outside the vocabulary."""
    accepted = known_scores >= threshold
    return {
        "known_clips": int(len(known_scores)),
        "unknown_clips": int(len(unknown_scores)),
        "auroc": auroc(known_scores, unknown_scores),
        "threshold": float(threshold),
        "false_reject": float((~accepted).mean()) if len(accepted) else float("nan"),
        "false_accept": float((unknown_scores >= threshold).mean()) if len(unknown_scores) else float("nan"),
        "known_accuracy": float(known_correct.mean()) if len(known_correct) else float("nan"),
        "known_accuracy_with_rejection": float((known_correct & accepted).mean()) if len(accepted) else float("nan"),
        "accuracy_at_coverage": accuracy_at_coverage(known_scores, known_correct),
    }

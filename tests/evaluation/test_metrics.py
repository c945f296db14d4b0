"""Report numbers against values computed by hand on a small fixed prediction set."""

from __future__ import annotations

import numpy as np
import pytest

from signlang.evaluation.metrics import confusion, evaluation_report, macro_f1, topk_hits

# 6 clips, 3 glosses. Predicted (argmax): 0, 1, 1, 2, 0, 2; truth: 0, 0, 1, 2, 2, 1
GLOSS_PROBS = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.3, 0.6, 0.1],
        [0.1, 0.8, 0.1],
        [0.2, 0.1, 0.7],
        [0.5, 0.1, 0.4],
        [0.1, 0.3, 0.6],
    ]
)
GLOSS = np.array([0, 0, 1, 2, 2, 1])
CAT_PROBS = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
CAT = np.array([0, 0, 1, 1, 1, 1])
OCCLUDED = np.array([0, 0, 0, 1, 1, 0])


def test_top_k():
    assert topk_hits(GLOSS_PROBS, GLOSS, 1).tolist() == [True, False, True, True, False, False]
    # top-2: clip 1 has 0 (0.3) second; clip 4 has 2 (0.4) second; clip 5 has 1 (0.3) second
    assert topk_hits(GLOSS_PROBS, GLOSS, 2).all()
    assert topk_hits(GLOSS_PROBS, GLOSS, 5).all()  # k larger than the number of classes


def test_confusion_and_macro_f1_by_hand():
    cm = confusion(GLOSS, GLOSS_PROBS.argmax(1), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 1], [1, 0, 1]]
    # every class: tp 1, support 2, predicted 2 -> precision = recall = 0.5 -> F1 0.5
    assert macro_f1(cm) == pytest.approx(0.5)
    # class 2 never occurs: it is skipped, not counted as F1 0
    assert macro_f1(np.array([[2, 0, 0], [1, 1, 0], [0, 0, 0]])) == pytest.approx((0.8 + 2 / 3) / 2)


def test_report_by_hand():
    report = evaluation_report(GLOSS_PROBS, GLOSS, CAT_PROBS, CAT, OCCLUDED, ["a", "b", "c"], ["x", "y"])
    assert report["clips"] == 6
    gloss = report["gloss"]
    assert gloss["top1"] == pytest.approx(3 / 6) and gloss["top5"] == 1.0 and gloss["macro_f1"] == pytest.approx(0.5)
    assert gloss["per_class"]["a"] == {"accuracy": 0.5, "support": 2}
    assert gloss["nll"] == pytest.approx(-np.mean(np.log([0.7, 0.3, 0.8, 0.7, 0.4, 0.3])))
    # categories: predicted 0,0,1,1,0,1 vs 0,0,1,1,1,1 -> 5/6; F1(x) = 2*2/(2+3) = 0.8, F1(y) = 2*3/(4+3) = 6/7
    assert report["category"]["top1"] == pytest.approx(5 / 6)
    assert report["category"]["macro_f1"] == pytest.approx((0.8 + 6 / 7) / 2)
    visible, occluded = report["by_occluded"]["0"], report["by_occluded"]["1"]
    assert visible["clips"] == 4 and occluded["clips"] == 2
    assert visible["gloss_top1"] == pytest.approx(2 / 4)  # clips 0, 1, 2, 5 -> right, wrong, right, wrong
    assert occluded["gloss_top1"] == pytest.approx(1 / 2)  # clips 3, 4 -> right, wrong
    assert occluded["cat_top1"] == pytest.approx(1 / 2)
    assert visible["gloss_top5"] == 1.0


def test_empty_subset_has_a_count_and_no_numbers():
    report = evaluation_report(GLOSS_PROBS, GLOSS, CAT_PROBS, CAT, np.zeros(6, int), ["a", "b", "c"], ["x", "y"])
    assert report["by_occluded"]["1"] == {
        "clips": 0,
        "gloss_top1": None,
        "gloss_top5": None,
        "gloss_macro_f1": None,
        "cat_top1": None,
    }

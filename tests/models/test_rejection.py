"""Rejection scores and thresholds: exact shares rejected and accepted, scores that mean what they
say, and a rejector that survives a ``weights_only`` checkpoint."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from signlang.core.errors import ConfigError
from signlang.models.rejection import (
    Outputs,
    Rejector,
    calibrate,
    compute_scores,
    infer,
    reference_vectors,
    threshold_for_false_accept,
    threshold_for_false_reject,
)


def outputs(logits, embeddings=None, gloss=None) -> Outputs:
    logits = np.asarray(logits, np.float32)
    n = len(logits)
    emb = np.asarray(embeddings if embeddings is not None else np.eye(n, 4), np.float32)
    return Outputs(logits, np.zeros((n, 1), np.float32), emb, np.asarray(gloss if gloss is not None else [0] * n))


def test_a_false_reject_threshold_rejects_at_most_that_share():
    scores = np.arange(100, dtype=float)
    t = threshold_for_false_reject(scores, 0.05)
    assert (scores < t).sum() == 5
    assert (scores < threshold_for_false_reject(scores, 0.0)).sum() == 0


def test_a_false_accept_threshold_accepts_at_most_that_share():
    scores = np.arange(100, dtype=float)
    t = threshold_for_false_accept(scores, 0.1)
    assert (scores >= t).sum() == 10
    assert (scores >= threshold_for_false_accept(scores, 0.0)).sum() == 0


def test_scores_are_higher_for_clips_like_the_training_clips():
    confident, unsure = [10.0, 0.0, 0.0], [0.1, 0.0, 0.05]
    o = outputs([confident, unsure])
    msp, energy = compute_scores("msp", o), compute_scores("energy", o)
    assert msp[0] > msp[1] and energy[0] > energy[1]
    assert energy[0] == pytest.approx(np.log(np.exp(10) + 2), rel=1e-5)
    train = outputs([[0.0]] * 4, [[1, 0], [1, 0], [0, 1], [0, 1]], [0, 0, 1, 1])
    ref = reference_vectors("prototype", train, num_gloss=3)
    assert np.allclose(ref, [[1, 0], [0, 1], [0, 0]])  # a gloss without training clips is never nearest
    near_and_far = compute_scores("prototype", outputs([[0.0]] * 2, [[2, 0.1], [-1, -1]]), ref)
    assert near_and_far[0] > near_and_far[1]
    knn = compute_scores("knn", train, reference_vectors("knn", train, 3), k=1, exclude_self=True)
    assert np.allclose(knn, 1.0)  # each training clip's twin


def test_calibration_chooses_on_val_and_says_what_it_costs():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 5)) + 4 * np.eye(5)[np.arange(200) % 5]
    val = outputs(logits, rng.normal(size=(200, 4)), np.arange(200) % 5)
    rejector = calibrate("energy", val, val, 5, false_reject=0.05)
    c = rejector.calibration
    assert c["criterion"] == "false_reject" and c["val_false_reject"] <= 0.05
    assert (rejector.scores(val) < rejector.threshold).mean() == pytest.approx(c["val_false_reject"])
    assert c["val_accuracy_with_rejection"] <= c["val_accuracy"]
    unknown = outputs(rng.normal(size=(50, 5)), rng.normal(size=(50, 4)))
    by_fa = calibrate("energy", val, val, 5, false_accept=0.1, unknown=unknown)
    assert by_fa.calibration["val_false_accept"] <= 0.1
    with pytest.raises(ConfigError, match="unknown clips"):
        calibrate("energy", val, val, 5, false_accept=0.1)
    with pytest.raises(ConfigError, match="score"):
        calibrate("nope", val, val, 5)


def test_a_rejector_round_trips_through_a_weights_only_checkpoint():
    train = outputs([[0.0]] * 2, [[1, 0], [0, 1]], [0, 1])
    rejector = calibrate("prototype", train, train, 2, false_reject=0.0)
    buffer = io.BytesIO()
    torch.save({"rejection": rejector.state_dict()}, buffer)
    buffer.seek(0)
    back = Rejector.from_state(torch.load(buffer, weights_only=True)["rejection"])
    assert back.score == "prototype" and back.threshold == rejector.threshold
    assert np.array_equal(back.known(train), rejector.known(train))


def test_infer_returns_clips_in_their_own_order(small_model_batches):
    model, batches, expected = small_model_batches
    out = infer(model, batches)
    assert np.allclose(out.gloss_logits, expected, atol=1e-5)
    assert out.embeddings.shape == (len(expected), model.gloss_head.in_features)


@pytest.fixture
def small_model_batches():
    from conftest import small_transformer, tiny_synthetic

    from signlang.data.loader import eval_batches

    torch.manual_seed(0)
    model = small_transformer().eval()
    data = tiny_synthetic()
    clips = data.split("val")
    batches = list(eval_batches(clips, None, batch_size=5))
    expected = np.zeros((len(clips), 6), np.float32)
    with torch.no_grad():
        for b in batches:
            expected[b.index.numpy()] = model(b.x, b.pad_mask, b.lengths)[0].numpy()
    return model, batches, expected

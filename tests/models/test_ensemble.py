"""SignEnsemble: members trained on their own losses, averaged at evaluation; the mirrored clip read
with flip_tta; one checkpoint like any model."""

from __future__ import annotations

import functools

import torch
from conftest import build_model
from test_transformer import SMALL, batch

from signlang.core.layout import MIRROR, NUM_POINTS
from signlang.models import SignEnsemble
from signlang.models.input_norm import fit_input_norm
from signlang.models.rejection import embed_and_classify
from signlang.training.trainer import Trainer


def ensemble(size: int = 3, flip_tta: bool = False) -> SignEnsemble:
    torch.manual_seed(0)
    member = functools.partial(build_model, "transformer", **SMALL)
    return SignEnsemble(156, member=member, size=size, flip_tta=flip_tta)


def test_members_start_apart_and_are_averaged_at_evaluation():
    model = ensemble()
    weights = [m.gloss_head.weight for m in model.members]
    assert not torch.equal(weights[0], weights[1])
    x, pad = batch()
    model.train()
    stacked, _ = model(x, pad)
    assert stacked.shape == (3, 3, 5)  # members x clips x glosses
    model.eval()
    with torch.no_grad():
        mean, _ = model(x, pad)
        each = [m(x, pad)[0] for m in model.members]
    torch.testing.assert_close(mean, torch.stack(each).mean(0))
    logits, _, embeddings = embed_and_classify(model, x, pad)
    torch.testing.assert_close(logits, mean)
    assert embeddings.shape == (3, 3 * 32)  # the members' embeddings side by side


def test_each_member_is_trained_on_its_own_loss():
    model = ensemble(size=2)
    x, pad = batch()
    from signlang.data.clips import Batch

    b = Batch(
        x,
        pad,
        (~pad).sum(1),
        torch.tensor([0, 3, 4]),
        torch.tensor([0, 1, 1]),
        torch.zeros(3, dtype=torch.long),
        torch.arange(3),
    )
    trainer = Trainer(max_epochs=1, device="cpu", callbacks=[])
    model.train()
    logits = model(x, pad)
    loss = trainer.loss(logits, b)
    separate = [trainer.loss((g, c), b) for g, c in zip(*logits)]
    torch.testing.assert_close(loss, torch.stack(separate).mean())
    loss.backward()
    assert all(m.gloss_head.weight.grad is not None for m in model.members)


def test_flip_tta_reads_the_mirrored_clip_too():
    model = ensemble(size=1, flip_tta=True).eval()
    x, pad = batch()
    mirrored = model.mirrored(x)
    points, back = x.view(3, -1, NUM_POINTS, 2), mirrored.view(3, -1, NUM_POINTS, 2)
    torch.testing.assert_close(back[..., 0], -points[..., list(MIRROR), 0])
    torch.testing.assert_close(model.mirrored(mirrored), x)  # mirroring twice is the clip
    with torch.no_grad():
        both, _ = model(x, pad)
        plain = model.members[0](x, pad)[0]
        flipped = model.members[0](mirrored, pad)[0]
    torch.testing.assert_close(both, (plain + flipped) / 2)


def test_input_statistics_are_fitted_once_and_shared():
    model = SignEnsemble(
        156, member=functools.partial(build_model, "transformer", **SMALL, input_norm=True), size=2, flip_tta=False
    )
    x, pad = batch()
    fit_input_norm(model, [type("B", (), {"x": x, "pad_mask": pad})()])
    a, b = (m.input_norm.state_dict() for m in model.members)
    assert bool(a["fitted"]) and all(torch.equal(a[k], b[k]) for k in a)


def test_the_members_views_are_computed_once_and_change_nothing():
    """Hand views and angles are the same for every member: computed once per batch (and per mirrored
    view), with the logits and embeddings each member computing its own would give."""
    torch.manual_seed(0)
    member = functools.partial(build_model, "transformer", **{**SMALL, "hands": True, "angles": True})
    model = SignEnsemble(156, member=member, size=3, flip_tta=True).eval()
    assert model.shared_frames
    x, pad = batch()
    calls = []
    for m in model.members:
        m.features.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        shared = embed_and_classify(model, x, pad)
        assert len(calls) == 2  # the clip and its mirror, once each
        model.shared_frames = False
        own = embed_and_classify(model, x, pad)
        assert len(calls) == 2 + 3 * 2
    for a, b in zip(shared, own):
        assert torch.equal(a, b)


def test_members_with_different_views_compute_their_own():
    configs = iter([{"angles": True}, {"angles": False}])
    member = lambda: build_model("transformer", **{**SMALL, "hands": True, **next(configs)})  # noqa: E731
    model = SignEnsemble(156, member=member, size=2, flip_tta=False).eval()
    assert not model.shared_frames
    x, pad = batch()
    with torch.no_grad():
        mean, _ = model(x, pad)
        each = [m(x, pad)[0] for m in model.members]
    torch.testing.assert_close(mean, torch.stack(each).mean(0))

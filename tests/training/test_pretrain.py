"""Masked pre-training: what is hidden, that reconstruction learns, what is saved, and how a fit starts from it."""

from __future__ import annotations

import csv

import pytest
import torch
from conftest import build_model, compose_config, run_app, small_transformer, tiny_synthetic
from hydra.utils import instantiate

from signlang.core.errors import ConfigError, DataError, user_message
from signlang.models.ensemble import SignEnsemble
from signlang.runs.checkpoints import load_checkpoint
from signlang.runs.folder import RunFolder
from signlang.runs.record import CHECKPOINT_DIR, PRETRAIN_METRICS_FILE, PRETRAINED_FILE
from signlang.training.pretrain import MaskedPretraining, hide
from signlang.training.trainer import Trainer


def pretraining(**overrides) -> MaskedPretraining:
    """What ``conf/pretrain/masked.yaml`` builds, with ``overrides``."""
    cfg = compose_config("pretrain=masked", *[f"pretrain.{k}={v}" for k, v in overrides.items()])
    return instantiate(cfg.pretrain)


def test_no_pretraining_is_the_default_and_masked_composes():
    assert not compose_config().pretrain
    p = pretraining()
    assert isinstance(p, MaskedPretraining) and p.include_train and p.init is None


def test_hide_hides_about_the_asked_share_of_frames_and_points_and_never_padding():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 200, 156) + 0.1  # every point present
    pad = torch.zeros(64, 200, dtype=torch.bool)
    pad[:, 150:] = True
    x[pad] = 0
    hidden = hide(x, pad, g, frame_ratio=0.3, span=5, point_ratio=0.0)
    frames = (hidden.view(64, 200, 78, 2) == 0).all(-1).all(-1) & ~pad
    assert 0.2 < frames[:, :150].float().mean() < 0.32  # spans overlap a little
    runs = torch.diff(frames[:, :150].int(), dim=1)
    assert (runs == 1).sum() < frames.sum() / 3  # in spans, not single frames
    points = hide(x, pad, g, frame_ratio=0.0, span=5, point_ratio=0.1)
    lost = (points.view(64, 200, 78, 2) == 0).all(-1)[~pad]
    assert 0.09 < lost.float().mean() < 0.11
    assert torch.equal(points[pad], x[pad]) and torch.equal(points[~(points == 0)], x[~(points == 0)])


def test_pretraining_learns_to_reconstruct_and_saves_the_encoder_without_heads(tmp_path):
    torch.manual_seed(0)
    data = tiny_synthetic(train_per_gloss=8)
    model = small_transformer()
    run = RunFolder(tmp_path / "run")
    pretraining(steps=60, log_every=20, lr=3e-3).run(model, data, run, Trainer(max_epochs=1))
    rows = list(csv.DictReader((run.path / PRETRAIN_METRICS_FILE).open()))
    assert [int(r["step"]) for r in rows] == [20, 40, 60]
    assert float(rows[-1]["loss"]) < 0.9 * float(rows[0]["loss"])  # 0.70-0.81 over seeds 0-5
    saved = load_checkpoint(run.path / CHECKPOINT_DIR / PRETRAINED_FILE)
    (encoder,) = saved["encoders"]
    assert not any(k.startswith(("gloss_head", "cat_head")) for k in encoder)
    assert torch.equal(encoder["layers.0.qkv.weight"], model.layers[0].qkv.weight.detach())
    assert bool(encoder["input_norm.fitted"]) and bool(model.input_norm.fitted)  # fitted on the pre-training clips
    assert saved["pretrain"]["clips"] == 48 and saved["pretrain"]["steps"] == 60


def test_a_fit_starts_from_the_saved_encoder_with_fresh_heads(tmp_path):
    data = tiny_synthetic()
    first = small_transformer()
    run = RunFolder(tmp_path / "run")
    pretraining(steps=5).run(first, data, run, Trainer(max_epochs=1))
    torch.manual_seed(1)
    second = small_transformer()
    heads = second.gloss_head.weight.detach().clone()
    pretraining(init=str(run.path)).run(second, data, RunFolder(tmp_path / "other"), Trainer(max_epochs=1))
    assert torch.equal(second.input_proj.weight, first.input_proj.weight)
    assert torch.equal(second.input_norm.mean, first.input_norm.mean) and bool(second.input_norm.fitted)
    assert torch.equal(second.gloss_head.weight, heads)
    assert not (tmp_path / "other" / CHECKPOINT_DIR / PRETRAINED_FILE).exists()  # nothing pre-trained there


def test_one_saved_encoder_starts_every_member_of_an_ensemble(tmp_path):
    data = tiny_synthetic()
    run = RunFolder(tmp_path / "run")
    single = small_transformer()
    pretraining(steps=3).run(single, data, run, Trainer(max_epochs=1))
    ensemble = SignEnsemble(156, member=small_transformer, size=2, flip_tta=False)
    pretraining(init=str(run.path / CHECKPOINT_DIR / PRETRAINED_FILE)).run(ensemble, data, run, Trainer(max_epochs=1))
    for m in ensemble.members:
        assert torch.equal(m.layers[0].ff1.weight, single.layers[0].ff1.weight)


def test_an_ensemble_pretrains_each_member_and_saves_one_encoder_each(tmp_path):
    ensemble = SignEnsemble(156, member=small_transformer, size=2, flip_tta=False)
    run = RunFolder(tmp_path / "run")
    pretraining(steps=3).run(ensemble, tiny_synthetic(), run, Trainer(max_epochs=1))
    saved = load_checkpoint(run.path / CHECKPOINT_DIR / PRETRAINED_FILE)["encoders"]
    assert len(saved) == 2 and not torch.equal(saved[0]["input_proj.weight"], saved[1]["input_proj.weight"])
    three = SignEnsemble(156, member=small_transformer, size=3, flip_tta=False)
    with pytest.raises(ConfigError, match="holds 2 encoders for a model with 3"):
        pretraining(init=str(run.path)).run(three, tiny_synthetic(), run, Trainer(max_epochs=1))


def test_user_errors_name_the_file_and_the_fix(tmp_path):
    data = tiny_synthetic()
    run = RunFolder(tmp_path / "run")
    pretraining(steps=2).run(small_transformer(), data, run, Trainer(max_epochs=1))
    wider = build_model("transformer", d_model=64, num_layers=1, num_heads=4, dim_feedforward=64)
    with pytest.raises(ConfigError, match="another model shape") as e:
        pretraining(init=str(run.path)).run(wider, data, run, Trainer(max_epochs=1))
    assert PRETRAINED_FILE in user_message(e.value)
    with pytest.raises(DataError, match="checkpoint not found"):
        pretraining(init=str(tmp_path / "nowhere.pt")).run(small_transformer(), data, run, Trainer(max_epochs=1))
    with pytest.raises(DataError, match="not a folder of .npz clips"):
        pretraining(roots=f"[{tmp_path / 'missing'}]").run(small_transformer(), data, run, Trainer(max_epochs=1))
    with pytest.raises(ConfigError, match="use data=keypoints"):
        pretraining(roots=f"[{tmp_path}]").run(small_transformer(), data, run, Trainer(max_epochs=1))
    with pytest.raises(ConfigError, match="has no per-frame encoder"):
        pretraining().run(build_model("gru"), data, run, Trainer(max_epochs=1))
    with pytest.raises(Exception) as e:  # raised inside hydra's instantiate, as run.py meets it
        pretraining(frame_ratio=0, point_ratio=0)
    assert "not both 0 (nothing would be hidden)" in user_message(e.value)


def test_extra_folders_are_read_unlabelled_and_normalised_like_the_run(npz_root, tmp_path):
    cfg = compose_config("data=keypoints", f"data.root={npz_root}", "data.num_gloss=6", "data.num_cat=2")
    data = instantiate(cfg.data, transform=instantiate(cfg.transform))
    p = pretraining(roots=f"[{npz_root / 'keypoints_test'}]", include_train=False, steps=2)
    clips = p.clips(data, RunFolder(tmp_path / "run"))
    assert len(clips) == 12 and clips.normalized  # the 12 test clips only: the run's own were left out
    unread = instantiate(cfg.data, transform=instantiate(cfg.transform), cache="none")
    with pytest.raises(ConfigError, match="data.cache=memory or mmap"):
        pretraining(steps=2).clips(unread, RunFolder(tmp_path / "other"))


def test_run_py_pretrains_then_fits_and_resume_does_not_pretrain_again(tmp_path):
    run_dir = tmp_path / "run"
    args = ["experiment=smoke", "pretrain=masked", "pretrain.steps=4", "pretrain.log_every=2"]
    result = run_app(*args, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (run_dir / CHECKPOINT_DIR / PRETRAINED_FILE).is_file() and (run_dir / "metrics.csv").is_file()
    before = (run_dir / PRETRAIN_METRICS_FILE).read_bytes()
    result = run_app(f"trainer.resume={run_dir}", "trainer.max_epochs=2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (run_dir / PRETRAIN_METRICS_FILE).read_bytes() == before
    assert "pretrain step" not in result.stdout + result.stderr

"""Every config option composes and instantiates; model and data must agree on their input."""

from __future__ import annotations

import pytest
import torch
from conftest import CONF, compose_config
from hydra.utils import instantiate
from omegaconf import OmegaConf

from signlang.config import check_model_fits_data
from signlang.errors import user_message
from signlang.training.trainer import param_groups


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_groups_have_the_documented_options():
    assert {"transformer", "gru", "iv3_gru"} <= set(options("model"))
    assert {"synthetic", "keypoints", "features"} <= set(options("data"))
    assert {"adamw", "adam"} <= set(options("optim"))
    assert {"none", "cosine"} <= set(options("scheduler"))
    assert {"default", "smoke"} <= set(options("trainer"))
    assert {"smoke", "asl33_transformer", "fsl105_transformer", "fsl105_gru"} <= set(options("experiment"))
    assert {"keypoints", "features", "synthetic", "none"} <= set(options("transform"))


def test_defaults():
    cfg = compose_config()
    choices = compose_config(hydra=True).hydra.runtime.choices
    assert (choices.model, choices.data, choices.optim, choices.trainer) == (
        "transformer",
        "synthetic",
        "adamw",
        "default",
    )
    assert cfg.paths.output_root == "experiments"
    assert cfg.model.input_dim == 156 and instantiate(cfg.data).kind == "keypoints"  # synthetic data follows the model
    assert cfg.trainer.device == "auto"
    for key in ("optim.lr", "optim.weight_decay", "data.batch_size", "trainer.max_epochs", "trainer.seed"):
        assert OmegaConf.select(cfg, key) is not None, key


@pytest.mark.parametrize("model", options("model"))
def test_every_model_option_instantiates(model):
    cfg = compose_config(f"model={model}")
    net = instantiate(cfg.model)
    assert net.gloss_head.out_features == cfg.data.num_gloss
    assert net.cat_head.out_features == cfg.data.num_cat
    check_model_fits_data(net, instantiate(cfg.data))  # synthetic data serves every model


@pytest.mark.parametrize("data", options("data"))
def test_every_data_option_instantiates_and_fits_its_model(data):
    model = {"features": ["model=iv3_gru"], "frames": ["model=iv3_gru", "model.backbone=inception_v3"]}.get(
        data, ["model=transformer"]
    )
    cfg = compose_config(f"data={data}", *model)
    check_model_fits_data(
        instantiate(cfg.model), instantiate(cfg.data)
    )  # what the data provides is what the model reads


def test_file_data_defaults_follow_the_seed_layout():
    cfg = compose_config("data=keypoints")
    data = instantiate(cfg.data)
    assert data.paths["train"] == ("data/processed/keypoints_train", "data/processed/train_labels.csv")
    assert data.paths["val"] == ("data/processed/keypoints_val", "data/processed/val_labels.csv")
    assert "test" not in data.paths and data.available() == ["train", "val"]
    other = instantiate(
        compose_config("data=keypoints", "data.root=/d", "data.val_dir=v", "data.val_labels=v.csv").data
    )
    assert other.paths == {
        "train": ("/d/keypoints_train", "/d/train_labels.csv"),
        "val": ("v", "v.csv"),
    }  # a set path wins
    assert (cfg.data.key, cfg.data.num_gloss, cfg.data.num_cat) == ("X", 105, 10)
    features = compose_config("model=iv3_gru", "data=features")
    assert (features.data.key, features.data.fallback_key, features.model.input_dim) == ("X2048", "X", 2048)


@pytest.mark.parametrize("optim", options("optim"))
@pytest.mark.parametrize("scheduler", options("scheduler"))
def test_every_optim_and_scheduler_option_instantiates(optim, scheduler):
    cfg = compose_config(f"optim={optim}", f"scheduler={scheduler}", "optim.lr=0.01")
    net = instantiate(compose_config("model=iv3_gru", "model.hidden_sizes=[8]").model)
    opt = instantiate(cfg.optim)(param_groups(net))
    assert opt.param_groups[0]["lr"] == 0.01
    sched = instantiate(cfg.scheduler)(opt, total_steps=100, steps_per_epoch=5)
    opt.step()
    sched.step(0.5) if hasattr(sched, "patience") else sched.step()


@pytest.mark.parametrize("trainer", options("trainer"))
def test_every_trainer_option_instantiates(trainer):
    cfg = compose_config(f"trainer={trainer}")
    t = instantiate(cfg.trainer)
    assert t.max_epochs == cfg.trainer.max_epochs and str(t.device) == "cpu"


@pytest.mark.parametrize("experiment", options("experiment"))
def test_every_experiment_composes_and_instantiates(experiment):
    cfg = compose_config(f"experiment={experiment}")
    root = cfg.data.get("root")
    if root and str(root).startswith("../shared") and not (CONF.parent / root).is_dir():
        pytest.skip(f"{root} is not available (the preset composes; its data is read when it is instantiated)")
    check_model_fits_data(instantiate(cfg.model), instantiate(cfg.data))
    instantiate(cfg.transform)


@pytest.mark.parametrize("model", ["transformer", "iv3_gru"])
def test_smoke_experiment_serves_both_models(model):
    cfg = compose_config("experiment=smoke", f"model={model}")
    check_model_fits_data(instantiate(cfg.model), instantiate(cfg.data))


@pytest.mark.parametrize("transform", options("transform"))
def test_every_transform_option_instantiates_and_runs(transform):
    from conftest import tiny_synthetic

    from signlang.data.transforms import Pipeline, Transform

    pipeline = instantiate(compose_config(f"transform={transform}").transform)
    assert isinstance(pipeline, Pipeline) and all(
        isinstance(t, Transform) for t in pipeline.normalize + pipeline.augment
    )
    data = tiny_synthetic("features" if transform == "features" else "keypoints")
    batch = data.split("train").batch(list(range(4)))
    out = pipeline(batch, torch.Generator().manual_seed(0), train=True)
    assert out.x.shape[0] == 4 and out.x.shape[2] == batch.x.shape[2] and torch.equal(out.gloss, batch.gloss)
    assert bool(pipeline) == (not torch.equal(out.x, batch.x) if out.x.shape == batch.x.shape else True)


def test_transform_and_recipe_follow_the_data():
    assert compose_config().transform.augment is None  # synthetic: plain
    keypoints = compose_config("data=keypoints")
    assert keypoints.transform.normalize.shoulders._target_.endswith("ShoulderNormalize")
    assert keypoints.trainer.max_epochs == 30 and keypoints.trainer.label_smoothing == 0.1  # the recipe
    assert (keypoints.trainer.min_steps, keypoints.trainer.ema, keypoints.trainer.monitor) == (6000, 0.999, "val_loss")
    gru = compose_config("model=gru", "data=keypoints")
    assert OmegaConf.to_container(gru.trainer) == OmegaConf.to_container(keypoints.trainer)  # the same recipe
    assert compose_config("data=keypoints", "trainer=smoke").trainer.min_steps is None  # a smoke run stays short
    assert compose_config("data=keypoints", "trainer.max_epochs=7").trainer.max_epochs == 7  # the user wins
    assert compose_config("data=keypoints", "recipe@trainer=none").trainer.max_epochs == 10
    smoke = compose_config("model=iv3_gru", "data=features", "trainer=smoke").trainer  # a chosen trainer wins
    assert smoke.max_epochs == 1 and smoke.label_smoothing == 0.1
    features = compose_config("model=iv3_gru", "data=features")
    assert features.trainer.max_epochs == 40 and features.transform.augment
    choices = compose_config("data=keypoints", hydra=True).hydra.runtime.choices
    assert (choices.transform, choices["recipe@trainer"]) == ("keypoints", "transformer_keypoints")


@pytest.mark.parametrize("logger", [*options("logger"), "[tensorboard,mlflow]"])
def test_every_logger_option_instantiates(logger):
    from signlang.loggers import MLflowLogger, TensorBoardLogger, build_loggers

    built = build_loggers(compose_config(f"logger={logger}").logger)
    kinds = {
        "csv": set(),
        "tensorboard": {TensorBoardLogger},
        "mlflow": {MLflowLogger},
        "[tensorboard,mlflow]": {TensorBoardLogger, MLflowLogger},
    }
    assert {type(b) for b in built} == kinds[logger] and len(built) == len(kinds[logger])


@pytest.mark.parametrize("recipe", options("recipe"))
def test_every_recipe_composes(recipe):
    cfg = compose_config(f"recipe@trainer={recipe}")
    instantiate(cfg.trainer)
    instantiate(cfg.optim)


def test_run_dir_names_are_unique_per_launch():
    a = compose_config(hydra=True)
    b = compose_config(hydra=True)
    dir_a, dir_b = str(a.hydra.run.dir), str(b.hydra.run.dir)
    assert dir_a.startswith("experiments/runs/") and "_transformer_synthetic_" in dir_a
    assert str(a.hydra.run.dir) == dir_a  # stable within one config
    assert dir_a != dir_b
    assert str(a.hydra.sweep.dir).startswith("experiments/sweeps/")


@pytest.mark.parametrize(
    "model,data,fix",
    [
        ("iv3_gru", "keypoints", "data=features"),
        ("transformer", "features", "data=keypoints"),
        ("gru", "features", "data=keypoints"),
    ],
)
def test_model_that_does_not_fit_the_data_is_refused(model, data, fix):
    cfg = compose_config(f"model={model}", f"data={data}")
    with pytest.raises(Exception) as refused:  # from the check, or from the model's constructor
        check_model_fits_data(instantiate(cfg.model), instantiate(cfg.data))
    assert fix in (user_message(refused.value) or "")

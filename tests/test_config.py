"""Every config option composes and instantiates into what it says; model and data agree on their input;
each default is written once."""

from __future__ import annotations

import inspect

import pytest
import torch
from conftest import CONF, compose_config, tiny_synthetic
from hydra.utils import get_object, instantiate
from omegaconf import OmegaConf

from signlang.core.errors import user_message
from signlang.data.module import ClipData
from signlang.data.transforms import Pipeline, Transform
from signlang.training.callbacks import build_callbacks
from signlang.training.loggers import MLflowLogger, TensorBoardLogger, build_loggers
from signlang.training.optim import param_groups
from signlang.training.trainer import check_model_fits_data


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_groups_have_the_documented_options():
    assert {"transformer", "gru", "iv3_gru"} <= set(options("model"))
    assert {"synthetic", "keypoints", "features", "frames"} <= set(options("data"))
    assert {"adamw", "adam", "sgd"} <= set(options("optim"))
    assert {"none", "cosine", "plateau"} <= set(options("scheduler"))
    assert {"default", "smoke"} <= set(options("trainer"))
    assert {"default", "checkpoint", "ema", "early_stopping", "finite_loss", "console", "none"} <= set(
        options("callbacks")
    )
    assert {"smoke", "asl33_transformer", "fsl105_transformer", "fsl105_gru"} <= set(options("experiment"))
    assert {"keypoints", "features", "synthetic", "none"} <= set(options("transform"))


def test_defaults():
    cfg = compose_config()
    choices = compose_config(hydra=True).hydra.runtime.choices
    chosen = (choices.model, choices.data, choices.optim, choices.trainer, choices.callbacks)
    assert chosen == ("transformer", "synthetic", "adamw", "default", "default")
    assert cfg.paths.output_root == "experiments"
    assert cfg.model.input_dim == 156 and instantiate(cfg.data).kind == "keypoints"  # synthetic data follows the model
    assert (cfg.trainer.device, cfg.trainer.max_epochs, cfg.trainer.default_epochs) == ("auto", None, 10)
    assert choices.recipe == "transformer_synthetic" and not (CONF / "recipe" / "transformer_synthetic.yaml").exists()


NEUTRAL = (None, False, (), "")  # a Python default that means "not set" (0 and 0.0 equal False)


def targets() -> list[tuple[str, str]]:
    """Every config file with a signlang ``_target_`` (at its top or one level down) and that target."""
    found = []
    for path in sorted(CONF.rglob("*.yaml")):
        cfg = OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}
        nodes = [cfg] if "_target_" in cfg else [v for v in cfg.values() if isinstance(v, dict) and "_target_" in v]
        own = [node for node in nodes if str(node["_target_"]).startswith("signlang.")]  # torch's defaults are torch's
        found += [(str(path.relative_to(CONF)), str(node["_target_"])) for node in own]
    return found


@pytest.mark.parametrize("path,target", targets())
def test_a_default_is_written_once_the_yaml_and_the_signature_never_disagree(path, target):
    """Where a YAML file sets a key the class also gives a default, they agree, unless the class's is
    neutral ("not set": None, off, empty); models give none at all."""
    cfg = OmegaConf.to_container(OmegaConf.load(CONF / path), resolve=False)
    node = (
        cfg
        if "_target_" in cfg
        else next(v for v in cfg.values() if isinstance(v, dict) and v.get("_target_") == target)
    )
    obj = get_object(target)
    fn = obj.__init__ if inspect.isclass(obj) else obj
    signature = dict(inspect.signature(fn).parameters)
    if inspect.isclass(obj) and issubclass(obj, ClipData):  # the shared batching settings
        signature = {**dict(inspect.signature(ClipData.__init__).parameters), **signature}
    for key, value in node.items():
        parameter = signature.get(key)
        default = None if parameter is None else parameter.default
        if default is inspect.Parameter.empty or default in NEUTRAL or str(value).startswith("${"):
            continue
        assert default == value, f"{path}: {key}={value} but {target} says {default}"
    if path.startswith("model/"):  # the one place a model's defaults live is its YAML
        keyword = [p for p in signature.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        assert keyword and all(p.default is inspect.Parameter.empty for p in keyword)


@pytest.mark.parametrize("model", options("model"))
def test_every_model_option_instantiates(model):
    cfg = compose_config(f"model={model}")
    net = instantiate(cfg.model)
    for head in [net, *getattr(net, "members", [])][-1:]:  # an ensemble's heads are its members'
        assert head.gloss_head.out_features == cfg.data.num_gloss
        assert head.cat_head.out_features == cfg.data.num_cat
    data = instantiate(cfg.data)
    assert data.kind == net.input_kind  # synthetic data serves every model


@pytest.mark.parametrize("data", options("data"))
def test_every_data_option_instantiates_and_fits_its_model(data):
    model = {"features": ["model=iv3_gru"], "frames": ["model=iv3_gru", "model.backbone=inception_v3"]}
    cfg = compose_config(f"data={data}", *model.get(data, ["model=transformer"]))
    net, built = instantiate(cfg.model), instantiate(cfg.data)
    assert built.kind == net.input_kind
    assert (built.batch_size, built.num_gloss) == (cfg.data.batch_size, net.gloss_head.out_features)


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
def test_every_optim_and_scheduler_option_builds_its_schedule(optim, scheduler):
    cfg = compose_config(f"optim={optim}", f"scheduler={scheduler}", "optim.lr=0.01")
    net = instantiate(compose_config("model=iv3_gru", "model.hidden_sizes=[8]").model)
    opt = instantiate(cfg.optim)(param_groups(net))
    assert type(opt).__name__ == cfg.optim._target_.rsplit(".", 1)[1]
    assert opt.param_groups[0]["weight_decay"] == cfg.optim.weight_decay and opt.param_groups[1]["weight_decay"] == 0.0
    sched = instantiate(cfg.scheduler)(opt, total_steps=100, steps_per_epoch=5)
    lrs = []
    for _ in range(60):  # 60 steps (plateau: 60 epochs of a val accuracy that never improves)
        opt.step()
        sched.step(0.5) if hasattr(sched, "patience") else sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    falling = all(b <= a + 1e-12 for a, b in zip(lrs, lrs[1:]))
    if scheduler == "none":
        assert lrs == [0.01] * 60
    elif scheduler == "warmup_cosine":  # up for its 2 warm-up epochs (10 steps), then down
        assert lrs[:9] == sorted(lrs[:9]) and lrs[9] == pytest.approx(0.01) and lrs[-1] < lrs[9]
    elif scheduler == "plateau":  # halved after each 6 epochs without improvement
        assert (
            falling and {round(lr / 0.01, 6) for lr in lrs} <= {round(0.5**k, 6) for k in range(12)} and lrs[-1] < 0.01
        )
    else:
        assert falling and lrs[-1] < 0.01


@pytest.mark.parametrize("trainer", options("trainer"))
def test_every_trainer_option_sets_the_length_it_names(trainer):
    t = instantiate(compose_config(f"trainer={trainer}").trainer)
    assert str(t.device) == "cpu"
    expected = {"default": (1000, None), "smoke": (100, 3)}[
        trainer
    ]  # 10 epochs by default; smoke: 1 epoch of 3 batches
    assert (t.total_steps(100), t.limit_train_batches) == expected


@pytest.mark.parametrize("experiment", options("experiment"))
def test_every_experiment_composes_and_instantiates(experiment):
    cfg = compose_config(f"experiment={experiment}")
    root = cfg.data.get("root")
    if root and str(root).startswith("../shared") and not (CONF.parent / root).is_dir():
        pytest.skip(f"{root} is not available (the preset composes; its data is read when it is instantiated)")
    net, data = instantiate(cfg.model), instantiate(cfg.data, transform=instantiate(cfg.transform))
    check_model_fits_data(net, data)
    for head in [net, *getattr(net, "members", [])][-1:]:  # an ensemble's heads are its members'
        assert head.gloss_head.out_features == data.num_gloss == len(data.gloss_names)
        assert head.cat_head.out_features == data.num_cat == len(data.cat_names)
    assert isinstance(data.transform, Pipeline) and build_callbacks(cfg.callbacks)


@pytest.mark.parametrize("model", ["transformer", "iv3_gru"])
def test_smoke_experiment_serves_both_models_in_one_short_epoch(model):
    cfg = compose_config("experiment=smoke", f"model={model}")
    assert instantiate(cfg.data).kind == instantiate(cfg.model).input_kind
    assert instantiate(cfg.trainer).total_steps(1) == 1 and cfg.trainer.limit_train_batches == 3


@pytest.mark.parametrize("transform", options("transform"))
def test_every_transform_option_instantiates_and_runs(transform):
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
    trainer = keypoints.trainer  # the recipe's default length and loss
    assert (trainer.default_epochs, trainer.default_min_steps, trainer.label_smoothing, trainer.max_epochs) == (
        30,
        6000,
        0.1,
        None,
    )
    assert (keypoints.callbacks.ema.decay, keypoints.callbacks.checkpoint.monitor) == (0.999, "val_loss")
    gru = compose_config("model=gru", "data=keypoints")
    same = ("trainer", "callbacks")
    assert [OmegaConf.to_container(gru[k]) for k in same] == [OmegaConf.to_container(keypoints[k]) for k in same]
    short = compose_config(
        "data=keypoints", "trainer=smoke"
    ).trainer  # a chosen trainer's length wins over the recipe's
    assert (short.max_epochs, short.default_min_steps) == (1, 6000)
    assert compose_config("data=keypoints", "recipe=none").trainer.default_epochs == 10
    assert "ema" not in compose_config("data=keypoints", "recipe=none").callbacks
    features = compose_config("model=iv3_gru", "data=features")
    assert features.trainer.default_epochs == 40 and features.transform.augment
    choices = compose_config("data=keypoints", hydra=True).hydra.runtime.choices
    assert (choices.transform, choices.recipe) == ("keypoints", "transformer_keypoints")


@pytest.mark.parametrize("logger", [*options("logger"), "[tensorboard,mlflow]"])
def test_every_logger_option_instantiates(logger):
    built = build_loggers(compose_config(f"logger={logger}").logger)
    kinds = {
        "csv": set(),
        "tensorboard": {TensorBoardLogger},
        "mlflow": {MLflowLogger},
        "[tensorboard,mlflow]": {TensorBoardLogger, MLflowLogger},
    }
    assert {type(b) for b in built} == kinds[logger] and len(built) == len(kinds[logger])


@pytest.mark.parametrize("recipe", options("recipe"))
def test_every_recipe_sets_what_it_says(recipe):
    cfg = compose_config(f"recipe={recipe}")
    settings = OmegaConf.load(CONF / "recipe" / f"{recipe}.yaml")
    for group in ("trainer", "callbacks"):
        for key, value in ((OmegaConf.to_container(settings) or {}).get(group) or {}).items():
            composed = cfg[group][key]
            composed = OmegaConf.to_container(composed) if OmegaConf.is_config(composed) else composed
            assert composed == value or (isinstance(value, dict) and value.items() <= composed.items()), (group, key)
    instantiate(cfg.trainer)
    build_callbacks(cfg.callbacks)


@pytest.mark.parametrize(
    "experiment, angles",
    [("fsl105_transformer", True), ("wlasl100_transformer", True), ("asl33_transformer", True), ("fsl105_gru", True)],
)
def test_hand_angles_are_read_where_val_chose_them(experiment, angles):
    """WLASL100's val chose hand angles for the transformer (FSL-105 and asl33 level), FSL-105's val for the GRU."""
    model = compose_config(f"experiment={experiment}").model
    member = model.member if "member" in model else model  # an ensemble's members
    assert member.angles is angles


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

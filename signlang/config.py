"""Config-level helpers: OmegaConf resolvers the YAML uses, and the model/data compatibility check."""

from __future__ import annotations

import secrets

from hydra.utils import get_class
from omegaconf import OmegaConf

from signlang.data.layout import INPUT_DIMS
from signlang.errors import ConfigError
from signlang.training.resume import hydra_subdir_resolver, run_dir_resolver

DESCRIPTIONS = {
    "keypoints": "keypoints [T,156] (78 points x (x, y))",
    "features": "per-frame InceptionV3 features [T,2048]",
    "frames": "video frames [T,3,299,299]",
}
DATA_FOR_KIND = {"keypoints": "data=keypoints", "features": "data=features"}


def model_input_kind(target: str) -> str:
    """The kind of input (keypoints / features) the model class ``target`` reads."""
    return get_class(target).input_kind


def register_resolvers() -> None:
    """Register the ``signlang.*`` resolvers used in ``conf/`` (idempotent).

    - ``${signlang.uid:}``: a short random id, fixed for the whole composed config (and for every
      job of a sweep), so two runs started in the same second never share a folder.
    - ``${signlang.input_kind:${model._target_}}``: what the chosen model reads, so synthetic data
      can generate it.
    - ``${signlang.input_dim:keypoints}``: the frame width of a kind of data (156 or 2048).
    - ``${signlang.run_dir:${trainer.resume},'<new folder>'}`` and ``${signlang.hydra_subdir:...}``:
      a resumed run continues in its own folder and keeps its original ``.hydra/``.
    """
    OmegaConf.register_new_resolver("signlang.uid", lambda: secrets.token_hex(2), use_cache=True, replace=True)
    OmegaConf.register_new_resolver("signlang.input_kind", model_input_kind, replace=True)
    OmegaConf.register_new_resolver("signlang.input_dim", lambda kind: INPUT_DIMS[kind], replace=True)
    OmegaConf.register_new_resolver("signlang.run_dir", run_dir_resolver, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("signlang.hydra_subdir", hydra_subdir_resolver, use_cache=True, replace=True)


def check_model_fits_data(model: object, data: object) -> None:
    """Refuse before training when the model reads another kind of input than the data provides."""
    need, have = getattr(model, "input_kind"), getattr(data, "kind")
    if need == have:
        return
    name = type(model).__name__
    if need in DATA_FOR_KIND:
        fix = f"use {DATA_FOR_KIND[need]} (or data=synthetic)"
    else:
        fix = "no data config provides frames; set model.backbone=null and train on extracted features"
    raise ConfigError(f"{name} reads {DESCRIPTIONS[need]}, but this data provides {DESCRIPTIONS[have]}: {fix}")

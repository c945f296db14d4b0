"""Config-level helpers: the one OmegaConf resolver the YAML needs, and the model/data compatibility check."""

from __future__ import annotations

import secrets
from pathlib import Path

from omegaconf import OmegaConf

from signlang.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]  # the source checkout: run.py and conf/ (pip install -e .)
CONF_DIR = REPO_ROOT / "conf"

DESCRIPTIONS = {
    "keypoints": "keypoints [T,156] (78 points x (x, y))",
    "features": "per-frame InceptionV3 features [T,2048]",
    "frames": "video frames [T,3,299,299]",
}
DATA_FOR_KIND = {"keypoints": "data=keypoints", "features": "data=features", "frames": "data=frames"}


def register_resolvers() -> None:
    """Register ``${signlang.uid:}`` (idempotent): a short random id, drawn once per composed config
    (and shared by every job of a sweep), so two runs started in the same second never share a
    folder. It is the one thing plain YAML cannot say."""
    OmegaConf.register_new_resolver("signlang.uid", lambda: secrets.token_hex(2), use_cache=True, replace=True)


def check_model_fits_data(model: object, data: object) -> None:
    """Refuse before training when the model reads another kind of input than the data provides."""
    need, have = model.input_kind, data.kind
    if need == have:
        return
    name = type(model).__name__
    raise ConfigError(
        f"{name} reads {DESCRIPTIONS[need]}, but this data provides {DESCRIPTIONS[have]}: use {DATA_FOR_KIND[need]}"
    )

"""The 1-NN baseline: exact on hand-made points, and the CLI reads a config's data like run.py."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from signlang.commands.baseline import add_arguments
from signlang.commands.baseline import run as run_baseline
from signlang.evaluation.baseline import class_distances, nearest_neighbour, scores


def test_each_query_takes_the_class_of_its_nearest_training_vector():
    train = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [9.0, 1.0]])
    labels = np.array([0, 1, 2, 1])
    query = np.array([[8.5, 1.5], [0.5, 9.0], [0.2, 0.1]])
    d = class_distances(train, labels, query, num_classes=4)
    assert d[0, 1] == pytest.approx(0.5)  # squared distance to (9, 1), the nearer of class 1's two clips
    assert np.isinf(d[:, 3]).all()  # a class without training clips is never the nearest
    ranked = scores(d)
    assert ranked.argmax(1).tolist() == [1, 2, 0]
    assert np.allclose(ranked.sum(1), 1) and (ranked[:, 3] == ranked.min(1)).all()


def test_cli_scores_the_configs_test_split(capsys):
    args = add_arguments(argparse.ArgumentParser()).parse_args(["--json", "experiment=smoke"])
    assert run_baseline(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "test" and result["clips"] == 12  # the smoke data's test split
    assert 0 <= result["gloss_acc"] <= result["gloss_top5"] <= 1 and 0 <= result["cat_acc"] <= 1


def test_training_clips_are_their_own_nearest_neighbours():
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from signlang.core.paths import CONF_DIR
    from signlang.runs.folder import register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=smoke"])
    data = instantiate(cfg.data)
    train = data.split("train")
    report = nearest_neighbour(train, train, data.num_gloss, data.num_cat)
    assert report["gloss"]["top1"] == 1.0 and report["category"]["top1"] == 1.0

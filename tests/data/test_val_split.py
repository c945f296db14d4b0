"""data.val_split: val carved from the training CSV at load time, stratified, seeded, recorded in the run folder."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import compose_config, run_app, tiny_synthetic
from hydra.utils import instantiate

from signlang.core.errors import ConfigError, DataError
from signlang.data.npz import SPLIT_RECORD, NpzData
from signlang.evaluation.evaluate import load_run


@pytest.fixture
def one_folder(tmp_path):
    """A dataset shipped as one folder + one CSV (10 glosses x 10 clips), with a signer column."""
    root = tiny_synthetic(num_gloss=10, num_cat=2, train_per_gloss=10).export(tmp_path / "data")
    table = pd.read_csv(root / "train_labels.csv")
    table["signer"] = [f"s{i // 10 % 5}" for i in range(len(table))]  # rows cycle through the glosses
    table.to_csv(root / "labels.csv", index=False)
    return root


def carved(root, **kw) -> NpzData:
    options = dict(
        kind="keypoints",
        num_gloss=10,
        num_cat=2,
        batch_size=8,
        train_dir=str(root / "keypoints_train"),
        train_labels=str(root / "labels.csv"),
        val_split=0.2,
    )
    return NpzData(**{**options, **kw})


def names(data, split):
    return set(data.split(split).names)


def test_carve_is_stratified_seeded_and_disjoint(one_folder):
    data = carved(one_folder)
    train, val = names(data, "train"), names(data, "val")
    assert not train & val and len(train | val) == 100 and len(val) == 20
    assert sorted(data.split("val").gloss.tolist()) == sorted(list(range(10)) * 2)  # two of every gloss
    assert names(carved(one_folder), "val") == val  # the same seed, the same split
    assert names(carved(one_folder, split_seed=1), "val") != val


def test_grouped_carve_keeps_each_signer_on_one_side(one_folder):
    data = carved(one_folder, val_group_by="signer")
    table = pd.read_csv(one_folder / "labels.csv").assign(file=lambda t: t["file"].str.replace(".npz", "", regex=False))
    signers = table.set_index("file")["signer"]
    assert not set(signers[list(names(data, "train"))]) & set(signers[list(names(data, "val"))])
    with pytest.raises(DataError, match="has no such column"):
        carved(one_folder, val_group_by="session").split("val")


def test_record_is_written_once_and_wins_over_a_new_carve(one_folder, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    first = carved(one_folder)
    first.bind_split(folder)
    recorded = pd.read_csv(folder / SPLIT_RECORD)
    assert set(recorded.loc[recorded["split"] == "val", "file"]) == names(first, "val")
    other = carved(one_folder, split_seed=7)  # what a changed seed would carve ...
    other.bind_split(folder)
    assert names(other, "val") == names(first, "val")  # ... but the run's own split is read back
    table = pd.read_csv(one_folder / "labels.csv")
    table.iloc[:-1].to_csv(one_folder / "labels.csv", index=False)
    with pytest.raises(DataError, match="no longer lists the clips this run was trained on"):
        carved(one_folder).bind_split(folder)


def test_binding_the_same_run_again_keeps_the_loaded_splits(one_folder, tmp_path):
    """Pre-training, the fit and the final evaluation each bind the run's split: loaded once, not three times."""
    folder = tmp_path / "run"
    folder.mkdir()
    data = carved(one_folder)
    data.bind_split(folder)
    train = data.prepared("train")
    data.bind_split(folder)
    data.bind_split(folder, write=False)
    assert data.prepared("train") is train
    other = tmp_path / "other"
    other.mkdir()
    (other / SPLIT_RECORD).write_bytes((folder / SPLIT_RECORD).read_bytes())
    data.bind_split(other)  # another run's record is read back, its splits loaded anew
    assert data.prepared("train") is not train and names(data, "train") == set(train.names)


def test_settings_that_cannot_work_are_refused(one_folder):
    with pytest.raises(ConfigError, match="not both|choose one"):
        carved(one_folder, val_dir=str(one_folder / "keypoints_val"), val_labels=str(one_folder / "val_labels.csv"))
    with pytest.raises(ConfigError, match="no val split"):
        carved(one_folder, val_split=None)
    with pytest.raises(ConfigError, match="fraction"):
        carved(one_folder, val_split=1.5)


def test_resume_and_evaluate_see_the_split_training_used(one_folder, tmp_path):
    common = [
        "data=keypoints",
        f"data.train_dir={one_folder}/keypoints_train",
        f"data.train_labels={one_folder}/labels.csv",
        "data.val_dir=null",
        "data.val_labels=null",
        "data.val_split=0.2",
        "data.num_gloss=10",
        "data.num_cat=2",
        "model.d_model=32",
        "model.num_heads=4",
        "model.dim_feedforward=64",
        "model.num_layers=1",
        "scheduler=none",
        "callbacks.console.progress=false",
    ]
    run = tmp_path / "run"
    result = run_app(*common, "trainer.max_epochs=1", f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stdout + result.stderr
    val = set(pd.read_csv(run / SPLIT_RECORD).query("split == 'val'")["file"])
    assert len(val) == 20
    assert set(load_run(run).data().split("val").names) == val
    result = run_app(f"trainer.resume={run}", "trainer.max_epochs=2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(pd.read_csv(run / SPLIT_RECORD).query("split == 'val'")["file"]) == val


def test_fsl105_preset_composes_and_carves_val_from_the_shipped_csv(shared_data):
    cfg = compose_config("experiment=fsl105_transformer")
    assert cfg.data.val_split == 0.15 and cfg.data.val_dir is None and cfg.data.test_dir is None
    data = instantiate(cfg.data)
    table = data.split_assignment()
    assert len(table) == 1704 and (table["split"] == "val").sum() == pytest.approx(0.15 * 1704, abs=30)
    assert table.groupby("gloss")["split"].apply(lambda s: (s == "val").sum()).min() >= 2
    assert data.gloss_names[0] == "GOOD MORNING" and len(data.cat_names) == 10
    with_test = compose_config("experiment=fsl105_transformer", "data.test_dir=/x", "data.test_labels=/x.csv")
    assert with_test.data.test_dir == "/x"

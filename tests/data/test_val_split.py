"""data.val_split / data.val_folds: val carved from the training CSV at load time (one part, or one fold of k),
stratified, seeded, recorded in the run folder."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import compose_config, run_app, tiny_synthetic
from hydra.utils import instantiate

from signlang.core.errors import ConfigError, DataError
from signlang.data.npz import SPLIT_RECORD, NpzData
from signlang.data.stratify import folds
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


def test_the_folds_make_every_clip_val_exactly_once_two_of_each_gloss_per_fold(one_folder):
    datas = [carved(one_folder, val_split=None, val_folds=5, val_fold=f) for f in range(5)]
    fold_vals = [names(data, "val") for data in datas]
    assert sum(len(v) for v in fold_vals) == 100 and len(set().union(*fold_vals)) == 100  # disjoint, all clips
    for data, val in zip(datas, fold_vals):
        assert names(data, "train") == set().union(*fold_vals) - val
        assert sorted(data.split("val").gloss.tolist()) == sorted(list(range(10)) * 2)
    again = carved(one_folder, val_split=None, val_folds=5, val_fold=3, split_seed=0)
    assert names(again, "val") == fold_vals[3]
    assert names(carved(one_folder, val_split=None, val_folds=5, val_fold=3, split_seed=1), "val") != fold_vals[3]


def test_uneven_glosses_spread_over_the_folds_within_one_clip():
    counts = [7, 3, 12, 1, 5, 9]  # clips per gloss, none a multiple of the 4 folds
    table = pd.DataFrame({"gloss": [g for g, n in enumerate(counts) for _ in range(n)]})
    fold = folds(table, 4, None, seed=0)
    sizes = fold.value_counts()
    assert set(fold) == {0, 1, 2, 3} and sizes.max() - sizes.min() <= 1
    per_gloss = pd.crosstab(table["gloss"], fold)
    assert ((per_gloss.max(axis=1) - per_gloss.min(axis=1)) <= 1).all()


def test_grouped_folds_keep_each_signer_in_one_fold(one_folder):
    table = pd.read_csv(one_folder / "labels.csv").assign(file=lambda t: t["file"].str.replace(".npz", "", regex=False))
    signers = table.set_index("file")["signer"]
    seen = []
    for f in range(5):  # five signers, five folds: a signer each
        data = carved(one_folder, val_split=None, val_folds=5, val_fold=f, val_group_by="signer")
        val = set(signers[list(names(data, "val"))])
        assert len(val) == 1 and not val & set(signers[list(names(data, "train"))])
        seen += val
    assert sorted(seen) == sorted(set(signers))
    with pytest.raises(DataError, match="carves no val clip.*each fold needs a signer group of its own"):
        carved(one_folder, val_split=None, val_folds=6, val_fold=5, val_group_by="signer").split("val")


def test_a_gloss_that_only_one_signer_made_is_named_when_its_fold_is_val(one_folder, caplog):
    table = pd.read_csv(one_folder / "labels.csv")
    table.loc[table["gloss"] == 0, "signer"] = "s0"
    table.to_csv(one_folder / "labels.csv", index=False)
    warned = []
    for f in range(5):
        caplog.clear()
        carved(one_folder, val_split=None, val_folds=5, val_fold=f, val_group_by="signer").split_assignment()
        warned += [f for r in caplog.records if "1 glosses of the carved val have no training clip (0)" in r.message]
    assert len(warned) == 1  # only in the fold where s0 is val


def test_fold_settings_that_cannot_work_are_refused(one_folder):
    with pytest.raises(ConfigError, match="whole number >= 2"):
        carved(one_folder, val_split=None, val_folds=1)
    with pytest.raises(ConfigError, match=r"data.val_fold=5 is not one of the 5 folds: use 0 \.\. 4"):
        carved(one_folder, val_split=None, val_folds=5, val_fold=5)
    with pytest.raises(ConfigError, match="set data.val_folds too"):
        carved(one_folder, val_fold=2)
    with pytest.raises(ConfigError, match="choose one"):
        carved(one_folder, val_folds=5)  # and data.val_split=0.2
    with pytest.raises(ConfigError, match="data.val_folds carves val .* choose one"):
        carved(one_folder, val_split=None, val_folds=5, val_dir=str(one_folder / "keypoints_val"))
    with pytest.raises(ConfigError, match="set data.val_split"):
        carved(one_folder, val_split=None, val_group_by="signer")


def test_settings_that_cannot_work_are_refused(one_folder):
    with pytest.raises(ConfigError, match="not both|choose one"):
        carved(one_folder, val_dir=str(one_folder / "keypoints_val"), val_labels=str(one_folder / "val_labels.csv"))
    with pytest.raises(ConfigError, match="no val split"):
        carved(one_folder, val_split=None)
    with pytest.raises(ConfigError, match="fraction"):
        carved(one_folder, val_split=1.5)


def tiny_run(root) -> list[str]:
    """A one-layer transformer on the one-folder dataset, val carved by data.val_split=0.2."""
    return [
        "data=keypoints",
        f"data.train_dir={root}/keypoints_train",
        f"data.train_labels={root}/labels.csv",
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


def test_a_sweep_over_the_folds_scores_every_clip_once_and_reports_the_folds_as_one_group(one_folder, tmp_path):
    folds_ = ["data.val_split=null", "data.val_folds=2", "data.val_fold=0,1"]
    result = run_app("-m", *tiny_run(one_folder), *folds_, "trainer.max_epochs=1", f"paths.output_root={tmp_path}")
    assert result.returncode == 0, result.stdout + result.stderr
    (sweep,) = (tmp_path / "sweeps").iterdir()
    vals = [set(pd.read_csv(sweep / job / SPLIT_RECORD).query("split == 'val'")["file"]) for job in ("0", "1")]
    assert len(vals[0]) == len(vals[1]) == 50 and not vals[0] & vals[1]
    summary = result.stdout + result.stderr  # the table the sweep prints as it ends
    assert "ignoring trainer.seed and data.val_fold" in summary and "(n=2)" in summary


def test_resume_and_evaluate_see_the_split_training_used(one_folder, tmp_path):
    common = tiny_run(one_folder)
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

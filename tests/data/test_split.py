"""signlang split: stratified by gloss, grouped by a column, identical clips kept in one split."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import run_command

from signlang.core.errors import ConfigError, DataError
from signlang.data.npz import load_split
from signlang.data.split import join_groups, keep_together, split_dataset


@pytest.fixture
def flat(tmp_path):
    """60 clips, 4 glosses, 6 signers, in one folder with one labels CSV."""
    folder = tmp_path / "raw"
    folder.mkdir()
    rows = []
    rng = np.random.default_rng(0)
    for i in range(60):
        gloss, signer = i % 4, f"s{i % 6}"
        np.savez(folder / f"c{i:02d}.npz", X=rng.random((5, 156), dtype=np.float32), mask=np.ones((5, 78), bool))
        rows.append({"file": f"c{i:02d}", "gloss": gloss, "cat": gloss // 2, "occluded": 0, "signer": signer})
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
    return folder, tmp_path / "labels.csv"


def test_stratified_split_in_the_seed_layout(flat, tmp_path):
    folder, labels = flat
    result = split_dataset(folder, labels, tmp_path / "out", val=0.2, test=0.2, seed=1)
    assert result["counts"] == {"train": 36, "val": 12, "test": 12}
    for split in ("train", "val", "test"):
        table = pd.read_csv(tmp_path / "out" / f"{split}_labels.csv")
        assert table["gloss"].value_counts().tolist() == [len(table) // 4] * 4  # every gloss in proportion
        clips = load_split(
            tmp_path / "out" / f"keypoints_{split}",
            tmp_path / "out" / f"{split}_labels.csv",
            kind="keypoints",
            key="X",
            num_gloss=4,
            num_cat=2,
        )
        assert len(clips) == len(table)
    again = split_dataset(folder, labels, tmp_path / "again", val=0.2, test=0.2, seed=1)
    assert again == result  # the same seed, the same split


def test_grouped_split_keeps_each_signer_in_one_split(flat, tmp_path):
    folder, labels = flat
    result = split_dataset(folder, labels, tmp_path / "out", val=0.2, test=0.2, group_by="signer", seed=0)
    seen = {s: set(pd.read_csv(tmp_path / "out" / f"{s}_labels.csv")["signer"]) for s in ("train", "val", "test")}
    assert not (seen["train"] & seen["val"] or seen["train"] & seen["test"] or seen["val"] & seen["test"])
    assert sum(len(v) for v in seen.values()) == 6 and all(seen.values())
    assert sum(result["counts"].values()) == 60


@pytest.mark.parametrize("group_by", [None, "signer"])
def test_identical_clips_land_in_one_split_and_label_conflicts_are_listed(flat, tmp_path, group_by):
    """The same recording under two names (WLASL100 ships seven such pairs across its official train
    and val) must not put a test clip into training."""
    folder, labels = flat
    pairs = [("c00", "c59"), ("c01", "c02"), ("c05", "c30")]  # different glosses and signers
    for a, b in pairs:
        shutil.copy(folder / f"{a}.npz", folder / f"{b}.npz")
    for seed in range(6):
        result = split_dataset(folder, labels, tmp_path / f"out{seed}", val=0.2, test=0.2, group_by=group_by, seed=seed)
        where = {
            f: s
            for s in ("train", "val", "test")
            for f in pd.read_csv(tmp_path / f"out{seed}" / f"{s}_labels.csv")["file"].str[:-4]
        }
        assert len(where) == 60 and all(where[a] == where[b] for a, b in pairs)
        assert not result["leaks"] and sorted(sorted(f for f, _ in d) for d in result["duplicates"]) == sorted(
            sorted(p) for p in pairs
        )
        assert sorted(sorted(c) for c in result["conflicts"]) == [
            [("c00", 0), ("c59", 3)],
            [("c01", 1), ("c02", 2)],
            [("c05", 1), ("c30", 2)],
        ]
        if group_by:  # whole signers still: the pairs join their signers into one split
            seen = {s: {f"s{int(f[1:]) % 6}" for f, w in where.items() if w == s} for s in ("train", "val", "test")}
            assert not (seen["train"] & seen["val"] or seen["train"] & seen["test"] or seen["val"] & seen["test"])
    cli = run_command("split", str(folder), str(labels), "--out", str(tmp_path / "cli"), "--link")
    assert cli.returncode == 0 and "kept in one split" in cli.stdout and "different glosses" in cli.stdout
    assert (tmp_path / "cli" / "keypoints_train").is_dir()


def test_a_split_without_duplicates_is_unchanged_by_keeping_them_together():
    """Splits written before identical clips were kept together come out the same again."""
    split = pd.Series(["train", "val", "test", "train", "val"])
    assert keep_together(split, pd.Series(["a", "b", "c", "d", "e"])).equals(split)
    assert keep_together(split, pd.Series(["a", "b", "b", "d", "a"])).tolist() == [
        "train",
        "val",
        "val",
        "train",
        "train",
    ]
    groups = pd.Series(["s1", "s2", "s3", "s2"])
    assert join_groups(groups, pd.Series(["a", "b", "c", "d"])).equals(groups)
    assert join_groups(groups, pd.Series(["a", "b", "a", "d"])).tolist() == ["s1", "s2", "s1", "s2"]


def test_leaving_out_a_gloss_reports_its_duplicate_outside_as_leakage(flat, tmp_path):
    folder, labels = flat
    result = split_dataset(folder, labels, tmp_path / "probe", val=0.2, test=0.2, seed=0, leave_out=1)
    (gone,) = result["left_out"]["unknown_test"]
    source, target = f"c{gone:02d}", f"c{(gone + 1) % 4:02d}"  # a clip of the left-out gloss, one of another
    shutil.copy(folder / f"{source}.npz", folder / f"{target}.npz")
    result = split_dataset(folder, labels, tmp_path / "out", val=0.2, test=0.2, seed=0, leave_out=1)
    assert [sorted(f for f, _ in leak) for leak in result["leaks"]] == [sorted([source, target])]
    cli = run_command("split", str(folder), str(labels), "--out", str(tmp_path / "cli"), "--leave-out", "1", "--link")
    assert cli.returncode == 1 and "leakage" in cli.stdout


def test_bad_arguments(flat, tmp_path):
    folder, labels = flat
    with pytest.raises(ConfigError, match="--group-by"):
        split_dataset(folder, labels, tmp_path / "o", group_by="nobody")
    with pytest.raises(ConfigError, match="fractions"):
        split_dataset(folder, labels, tmp_path / "o", val=0.6, test=0.5)
    table = pd.read_csv(labels)
    table.loc[[3, 7], "signer"] = None
    table.to_csv(labels, index=False)
    with pytest.raises(DataError, match="2 row.*no signer.*c03, c07"):
        split_dataset(folder, labels, tmp_path / "o", group_by="signer")


def test_left_out_glosses_leave_every_split_with_all_their_clips(flat, tmp_path):
    folder, labels = flat
    plain = split_dataset(folder, labels, tmp_path / "plain", val=0.2, test=0.2, seed=3)
    result = split_dataset(folder, labels, tmp_path / "out", val=0.2, test=0.2, seed=3, leave_out=1, leave_out_val=1)
    (test_gloss,), (val_gloss,) = result["left_out"]["unknown_test"], result["left_out"]["unknown_val"]
    assert test_gloss != val_gloss and result["counts"]["unknown_test"] == result["counts"]["unknown_val"] == 15
    for part, gloss in (("unknown_test", test_gloss), ("unknown_val", val_gloss)):
        table = pd.read_csv(tmp_path / "out" / f"{part}_labels.csv")
        assert (
            set(table["gloss"]) == {gloss} and len(list((tmp_path / "out" / f"keypoints_{part}").glob("*.npz"))) == 15
        )
    for split in ("train", "val", "test"):  # the known splits: as without leaving out, less those glosses
        known = pd.read_csv(tmp_path / "out" / f"{split}_labels.csv")
        before = pd.read_csv(tmp_path / "plain" / f"{split}_labels.csv")
        assert known["file"].tolist() == before.loc[~before["gloss"].isin([test_gloss, val_gloss]), "file"].tolist()
    assert plain["counts"]["train"] == 36
    with pytest.raises(ConfigError, match="leave none"):
        split_dataset(folder, labels, tmp_path / "x", leave_out=3, leave_out_val=1)
    shown = run_command("split", str(folder), str(labels), "--out", str(tmp_path / "cli"), "--leave-out", "1")
    assert shown.returncode == 0 and "unknown_test: glosses" in shown.stdout

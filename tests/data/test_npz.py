"""Loading .npz folders + label CSVs, and refusing each kind of bad input with a clear message."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import compose_config
from hydra.utils import instantiate

from signlang.core.errors import DataError
from signlang.data.labels import read_labels
from signlang.data.npz import NpzData, load_split


def load(root: Path, kind: str = "keypoints", split: str = "train", **kw):
    options = dict(kind=kind, key="X" if kind == "keypoints" else "X2048", num_gloss=6, num_cat=2)
    options.update(kw)
    return load_split(root / f"keypoints_{split}", root / f"{split}_labels.csv", **options)


def rewrite_csv(root: Path, text: str, split: str = "train") -> None:
    (root / f"{split}_labels.csv").write_text(text)


def first_clip(root: Path) -> Path:
    return sorted((root / "keypoints_train").glob("*.npz"))[0]


def test_loads_keypoints_with_mask_and_features(npz_root):
    kp = load(npz_root)
    assert len(kp) == 24 and kp.width == 156 and kp.point_mask is not None
    feats = load(npz_root, kind="features")
    assert feats.width == 2048 and feats.point_mask is None
    np.testing.assert_array_equal(kp.lengths, feats.lengths)


def test_file_names_with_or_without_npz_suffix(npz_root):
    csv = npz_root / "train_labels.csv"
    lines = csv.read_text().splitlines()
    csv.write_text(
        "\n".join([lines[0]] + [line.replace(".npz", "", 1) if i % 2 else line for i, line in enumerate(lines[1:])])
        + "\n"
    )
    assert len(load(npz_root)) == 24


def test_features_fall_back_to_X_when_it_is_2048_wide(tmp_path):
    (tmp_path / "keypoints_train").mkdir()
    np.savez(tmp_path / "keypoints_train" / "a.npz", X=np.ones((4, 2048), np.float32))
    rewrite_csv(tmp_path, "file,gloss,cat,occluded\na,0,0,0\n")
    clips = load(tmp_path, kind="features", fallback_key="X")
    assert clips.width == 2048


def test_occluded_column_is_optional(npz_root):
    csv = npz_root / "train_labels.csv"
    csv.write_text("\n".join(",".join(line.split(",")[:3]) for line in csv.read_text().splitlines()) + "\n")
    assert load(npz_root).occluded.sum() == 0


def test_unlabelled_files_are_a_warning_with_a_count(npz_root, caplog):
    csv = npz_root / "train_labels.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(lines[:-3]) + "\n")
    with caplog.at_level(logging.WARNING):
        clips = load(npz_root)
    assert len(clips) == 21
    assert "3 .npz file(s) are not in" in caplog.text


@pytest.mark.parametrize(
    "csv,message",
    [
        ("", "is empty"),
        ("file,gloss,cat,occluded\n", "no rows"),
        ("file,label\nx,1\n", "lacks column.*gloss, cat"),
        ("file,gloss,cat,occluded\n,0,0,0\n", "without a file name"),
        ("file,gloss,cat,occluded\ntrain_00000.npz,9,0,0\n", r"gloss labels \[9\].*data.num_gloss"),
        ("file,gloss,cat,occluded\ntrain_00000.npz,0,-1,0\n", r"cat labels \[-1\].*data.num_cat"),
        ("file,gloss,cat,occluded\ntrain_00000.npz,a,0,0\n", "non-integer gloss"),
        ("file,gloss,cat,occluded\ntrain_00000.npz,0,0,0\ntrain_00000,1,0,0\n", "more than once"),
        (
            "file,gloss,cat,occluded\ntrain_00000.npz,0,0,0\nnope_1.npz,0,0,0\nnope_2,0,0,0\n",
            "2 clip.*not found.*nope_1, nope_2",
        ),
    ],
)
def test_bad_csv_is_refused(npz_root, csv, message):
    rewrite_csv(npz_root, csv)
    with pytest.raises(DataError, match=message) as err:
        load(npz_root)
    assert "train_labels.csv" in str(err.value) or "keypoints_train" in str(err.value)


@pytest.mark.parametrize(
    "arrays,kind,message",
    [
        ({"Y": np.zeros((4, 156))}, "keypoints", "no array 'X'.*data.key"),
        ({"X": np.zeros((4, 150))}, "keypoints", "width 150.*needs 156"),
        ({"X": np.zeros((4, 2048))}, "keypoints", "use data=features"),
        ({"X2048": np.zeros((4, 156))}, "features", "use data=keypoints"),
        ({"X": np.zeros((0, 156))}, "keypoints", "T = 0"),
        ({"X": np.zeros((4, 2, 78))}, "keypoints", "expected \\[T, 156\\]"),
        ({"X": np.full((4, 156), np.nan)}, "keypoints", "NaN/inf"),
        ({"X": np.zeros((4, 156)), "mask": np.ones((4, 77), bool)}, "keypoints", "'mask' has shape"),
    ],
)
def test_bad_npz_is_refused_naming_the_file(npz_root, arrays, kind, message):
    path = first_clip(npz_root)
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message) as err:
        load(npz_root, kind=kind)
    assert path.name in str(err.value)


def test_corrupt_or_truncated_npz_is_refused(npz_root):
    path = first_clip(npz_root)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match=f"{path.name}: unreadable"):
        load(npz_root)


def test_missing_paths_and_empty_folders(npz_root, tmp_path):
    with pytest.raises(DataError, match="data directory not found"):
        load_split(tmp_path / "nope", npz_root / "train_labels.csv", kind="keypoints", key="X", num_gloss=6, num_cat=2)
    with pytest.raises(DataError, match="labels CSV not found"):
        read_labels(tmp_path / "nope.csv", 6, 2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no .npz files"):
        load_split(tmp_path / "empty", npz_root / "train_labels.csv", kind="keypoints", key="X", num_gloss=6, num_cat=2)


def test_npz_data_loads_the_seed_layout_with_a_test_split(npz_root):
    cfg = compose_config(
        "data=keypoints",
        f"data.root={npz_root}",
        "data.num_gloss=6",
        "data.num_cat=2",
        "data.test_dir=${data.root}/keypoints_test",
        "data.test_labels=${data.root}/test_labels.csv",
    )
    data = instantiate(cfg.data)
    assert isinstance(data, NpzData)
    data.setup()
    assert [len(data.split(s)) for s in ("train", "val", "test")] == [24, 12, 12]


@pytest.mark.parametrize("model,data,width", [("transformer", "keypoints", 156), ("iv3_gru", "features", 2048)])
def test_real_fsl105_sample_loads(shared_data, model, data, width):
    sample = shared_data / "fsl105_sample"
    cfg = compose_config(
        f"model={model}",
        f"data={data}",
        f"data.train_dir={sample}",
        f"data.val_dir={sample}",
        f"data.train_labels={sample}/labels.csv",
        f"data.val_labels={sample}/labels.csv",
    )
    ds = instantiate(cfg.data)
    ds.setup()
    train = ds.split("train")
    assert len(train) == 20 and train.width == width
    assert set(train.gloss.tolist()) == {0} and train.occluded.sum() > 0
    assert 100 < train.lengths.mean() < 150
    if data == "keypoints":
        assert train.point_mask is not None and train.point_mask[:, :13].mean() > 0.95  # head and shoulders found

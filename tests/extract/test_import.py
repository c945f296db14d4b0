"""signlang import: WLASL's split files and sign_signer_repetition file names, made here in small,
become the seed layout with the dataset's splits, signers, frame ranges and class names."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED, run_command

from signlang.core.errors import ConfigError, DataError
from signlang.core.video import read_video
from signlang.data.npz import load_split
from signlang.extract.importers import from_names, pattern_regex, read_class_list, wlasl

VIDEOS = SHARED / "videos"
pytestmark = pytest.mark.skipif(not VIDEOS.is_dir(), reason="../shared/data/videos is not available")
pytest.importorskip("mediapipe")


@pytest.fixture
def wlasl_files(tmp_path):
    """WLASL in small: three videos by id, nslt_3.json, WLASL_v0.3.json, wlasl_class_list.txt."""
    videos = tmp_path / "videos"
    videos.mkdir()
    for video_id, source in (("00001", "SOUP"), ("00002", "FOOTBALL"), ("00003", "test_video")):
        shutil.copy(VIDEOS / f"{source}.mp4", videos / f"{video_id}.mp4")
    nslt = {
        "00001": {"subset": "train", "action": [0, 1, 41]},
        "00002": {"subset": "val", "action": [1, 11, 40]},  # a sign cut from a longer video: frames 11..40
        "00003": {"subset": "test", "action": [2, 1, -1]},
        "00009": {"subset": "train", "action": [1, 1, -1]},  # a dead link: listed, never downloaded
    }
    (tmp_path / "nslt_3.json").write_text(json.dumps(nslt))
    meta = [
        {"gloss": "soup", "instances": [{"video_id": "00001", "split": "train", "signer_id": 7}]},
        {
            "gloss": "football",
            "instances": [
                {"video_id": "00002", "split": "val", "signer_id": 12},
                {"video_id": "00009", "split": "train", "signer_id": 7},
            ],
        },
        {"gloss": "hello", "instances": [{"video_id": "00003", "split": "test", "signer_id": 3}]},
        {"gloss": "unused", "instances": []},
    ]
    (tmp_path / "WLASL_v0.3.json").write_text(json.dumps(meta))
    (tmp_path / "wlasl_class_list.txt").write_text("0\tsoup\n1\tfootball\n2\thello\n3\tunused\n")
    return tmp_path


def test_a_frame_range_decodes_only_those_frames():
    whole = read_video(VIDEOS / "FOOTBALL.mp4", None)
    part = read_video(VIDEOS / "FOOTBALL.mp4", None, frames=(11, 40))
    assert len(part.frames) == 30 and part.timestamps_ms[0] == 0 and part.partial is None
    assert np.array_equal(part.frames[0], whole.frames[10])


def test_wlasl_from_an_nslt_file_keeps_its_splits_signers_ranges_and_names(wlasl_files):
    root = wlasl_files
    result = run_command(
        "import",
        "wlasl",
        "--split-file",
        str(root / "nslt_3.json"),
        "--metadata",
        str(root / "WLASL_v0.3.json"),
        "--videos",
        str(root / "videos"),
        "--out",
        str(root / "out"),
        "--workers",
        "2",
    )
    assert result.returncode == 0, result.stderr
    assert "1 listed video(s) not in" in result.stdout and "00009" in result.stdout
    out = root / "out"
    for split, (file, gloss, signer) in {
        "train": ("00001", 0, 7),
        "val": ("00002", 1, 12),
        "test": ("00003", 2, 3),
    }.items():
        table = pd.read_csv(out / f"{split}_labels.csv", dtype={"file": str, "signer": str})
        assert table.to_dict("records") == [
            {"file": f"{file}.npz", "gloss": gloss, "cat": 0, "occluded": table["occluded"][0], "signer": str(signer)}
        ]
        clips = load_split(
            out / f"keypoints_{split}", out / f"{split}_labels.csv", kind="keypoints", key="X", num_gloss=3, num_cat=1
        )
        assert len(clips) == 1
    with np.load(out / "keypoints_val" / "00002.npz") as z:
        assert len(z["X"]) == 30 and json.loads(str(z["meta"]))["source_frames"] == [11, 40]  # the sign alone
    names = pd.read_csv(out / "label_names.csv")
    assert names["label"].tolist() == ["SOUP", "FOOTBALL", "HELLO"] and set(names["category"]) == {"ASL"}


def test_wlasl_v03_alone_with_a_subset_and_a_class_list(wlasl_files):
    root = wlasl_files
    data = wlasl(root / "WLASL_v0.3.json", root / "videos", subset=2)
    assert sorted(e.name for e in data.entries) == ["00001", "00002"] and data.missing == ["00009"]
    assert data.glosses == ["SOUP", "FOOTBALL"] and {e.signer for e in data.entries} == {"7", "12"}
    listed = wlasl(root / "nslt_3.json", root / "videos", class_list=root / "wlasl_class_list.txt")
    assert listed.glosses == ["soup", "football", "hello"] and all(e.signer == "" for e in listed.entries)
    (root / "bad.json").write_text(json.dumps({"00001": {"subset": "train"}}))
    with pytest.raises(DataError, match="action"):
        wlasl(root / "bad.json", root / "videos")


def test_sign_signer_repetition_names_with_signers_held_out(tmp_path):
    videos = tmp_path / "lsa"
    videos.mkdir()
    for name, source in (
        ("001_001_001", "SOUP"),
        ("002_001_001", "FOOTBALL"),
        ("001_002_001", "SOUP"),
        ("002_003_001", "FOOTBALL"),
    ):
        shutil.copy(VIDEOS / f"{source}.mp4", videos / f"{name}.mp4")
    (tmp_path / "classes.txt").write_text("Opaque\nRed\n")
    result = run_command(
        "import",
        "names",
        "--videos",
        str(videos),
        "--class-list",
        str(tmp_path / "classes.txt"),
        "--val-signers",
        "003",
        "--test-signers",
        "002",
        "--language",
        "LSA",
        "--out",
        str(tmp_path / "out"),
        "--workers",
        "2",
    )
    assert result.returncode == 0, result.stderr
    train = pd.read_csv(tmp_path / "out" / "train_labels.csv", dtype={"signer": str})
    assert train[["file", "gloss", "signer"]].values.tolist() == [
        ["001_001_001.npz", 0, "001"],
        ["002_001_001.npz", 1, "001"],
    ]
    assert pd.read_csv(tmp_path / "out" / "test_labels.csv", dtype={"signer": str})["signer"].tolist() == ["002"]
    assert pd.read_csv(tmp_path / "out" / "val_labels.csv", dtype={"signer": str})["signer"].tolist() == ["003"]
    names = pd.read_csv(tmp_path / "out" / "label_names.csv")
    assert names.values.tolist() == [[0, "Opaque", "LSA"], [1, "Red", "LSA"]]


def test_names_that_do_not_fit_the_pattern_are_one_message(tmp_path):
    videos = tmp_path / "v"
    videos.mkdir()
    shutil.copy(VIDEOS / "SOUP.mp4", videos / "soup.mp4")
    with pytest.raises(DataError, match="do not fit --pattern"):
        from_names(videos)
    with pytest.raises(ConfigError, match="needs {gloss}"):
        pattern_regex("{signer}_{repetition}")
    assert pattern_regex("{signer}-{gloss}").match("s04-HELLO")["gloss"] == "HELLO"
    shutil.copy(VIDEOS / "SOUP.mp4", videos / "s1_HELLO.mp4")
    (videos / "soup.mp4").unlink()
    by_name = from_names(videos, "{signer}_{gloss}")
    assert by_name.glosses == ["HELLO"] and by_name.entries[0].gloss == 0


def test_class_lists_in_the_forms_datasets_ship(tmp_path):
    (tmp_path / "a.txt").write_text("0\tbook\n1\tdrink\n")
    (tmp_path / "b.csv").write_text("ClassId,TR,EN\n0,kitap,book\n1,içmek,drink\n")
    (tmp_path / "c.txt").write_text("book\ndrink\n")
    for name in ("a.txt", "b.csv", "c.txt"):
        assert read_class_list(tmp_path / name) == ["book", "drink"]
    (tmp_path / "d.txt").write_text("0\tbook\n2\tdrink\n")
    with pytest.raises(DataError, match="without gaps"):
        read_class_list(tmp_path / "d.txt")

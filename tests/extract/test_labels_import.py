"""``signlang extract --labels`` reads a dataset's own label file: FSL-105's train.csv form
(``vid_path,id_label,label,category``, Windows separators, categories by name, a names file with a
byte-order mark), and its output passes ``signlang validate``."""

from __future__ import annotations

import shutil

import pytest
from conftest import SHARED, run_command

from signlang.core.errors import ConfigError
from signlang.extract.labels import LabelMap

pytest.importorskip("mediapipe")

NAMES = (
    "\ufeffid,label,category\n0,GOOD MORNING,GREETING\n1,GOOD AFTERNOON,GREETING\n2,HELLO,GREETING\n"
    "3,ONE,NUMBER\n4,TWO,NUMBER\n"
)
TRAIN = (
    "vid_path,id_label,label,category\nclips\\0\\0.MOV,0,GOOD MORNING,GREETING\nclips\\4\\6.MOV,4,TWO,NUMBER\n"
    "clips\\2\\1.MOV,2,HELLO,GREETING\n"
)


@pytest.fixture
def dataset(tmp_path):
    if not (SHARED / "videos").is_dir():
        pytest.skip("../shared/data/videos is not available")
    root = tmp_path / "dataset"
    for video, target in (("FOOTBALL", "clips/0/0.MOV"), ("SOUP", "clips/4/6.MOV"), ("test_video", "clips/2/1.MOV")):
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED / "videos" / f"{video}.mp4", root / target)
    (root / "train.csv").write_text(TRAIN, encoding="utf-8")
    (root / "labels.csv").write_text(NAMES, encoding="utf-8")  # with the byte-order mark, as FSL-105 ships it
    return root


def test_fsl105_form_labels_drive_extraction_to_a_csv_validate_accepts(dataset, tmp_path):
    out = tmp_path / "out"
    result = run_command(
        "extract",
        str(dataset / "clips"),
        "--out",
        str(out),
        "--fps",
        "5",
        "--workers",
        "2",
        "--labels",
        str(dataset / "train.csv"),
        "--label-columns",
        "file=vid_path,gloss=id_label,cat=category",
        "--label-names",
        str(dataset / "labels.csv"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = (out / "labels.csv").read_text().splitlines()
    assert rows[0] == "file,gloss,cat,occluded"
    assert {tuple(r.split(",")[:3]) for r in rows[1:]} == {
        ("0__0.npz", "0", "0"),
        ("4__6.npz", "4", "1"),
        ("2__1.npz", "2", "0"),
    }
    check = run_command("validate", str(out), "--labels", str(out / "labels.csv"), "--num-gloss", "5", "--num-cat", "2")
    assert check.returncode == 0, check.stdout + check.stderr


def test_glosses_by_name_and_mistakes_are_named(dataset):
    by_name = LabelMap(
        str(dataset / "train.csv"), "file=vid_path,gloss=label,cat=category", str(dataset / "labels.csv")
    )
    assert by_name("clips__4__6") == ("4", "1") and by_name("4__6") == (
        "4",
        "1",
    )  # relative to a folder below the CSV's
    with pytest.raises(ConfigError, match="give --label-names"):
        LabelMap(str(dataset / "train.csv"), "file=vid_path,gloss=id_label,cat=category")  # categories are names
    with pytest.raises(ConfigError, match="no column"):
        LabelMap(str(dataset / "train.csv"))  # FSL-105's columns are not file,gloss,cat

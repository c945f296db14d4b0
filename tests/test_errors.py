"""Every mistake a user can make through run.py gives one short message, a non-zero exit, no traceback
(in-process, through the same Hydra app as the script)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_app


def corrupt_clip(root: Path) -> None:
    path = sorted((root / "keypoints_train").glob("*.npz"))[0]
    path.write_bytes(path.read_bytes()[:300])


def missing_columns(root: Path) -> None:
    (root / "train_labels.csv").write_text("name,label\nx,1\n")


def bad_labels(root: Path) -> None:
    csv = root / "train_labels.csv"
    csv.write_text(csv.read_text().replace("train_00005.npz,5,", "train_00005.npz,42,", 1))


def wrong_key(root: Path) -> None:
    path = sorted((root / "keypoints_train").glob("*.npz"))[0]
    np.savez(path, keypoints=np.zeros((4, 156), np.float32))


CASES = {
    "corrupt npz": (corrupt_clip, [], "corrupt or truncated .npz"),
    "csv columns": (missing_columns, [], "lacks column(s) file, gloss, cat"),
    "label out of range": (bad_labels, [], "outside [0, 5]"),
    "num_gloss too small": (None, ["data.num_gloss=3"], "set data.num_gloss to the number of classes"),
    "missing key": (wrong_key, [], "no array 'X'"),
    "bad value": (None, ["model.pooling=sum"], "model.pooling must be one of"),
    "unknown key": (None, ["+model.depth=3"], "unexpected keyword argument 'depth'"),
}


@pytest.mark.parametrize("case", CASES)
def test_data_and_config_mistakes(tmp_path, npz_root, case):
    damage, extra, message = CASES[case]
    if damage:
        damage(npz_root)
    result = run_app(
        "data=keypoints",
        f"data.root={npz_root}",
        "data.num_gloss=6",
        "data.num_cat=2",
        f"paths.output_root={tmp_path}",
        *extra,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert message in out and "Traceback" not in out


def test_unwritable_output_root(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = run_app("experiment=smoke", f"paths.output_root={blocker}/sub")
    assert result.returncode == 1 and "set paths.output_root to a writable folder" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_debug_mode_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNLANG_DEBUG", "1")
    result = run_app("data=keypoints", f"data.root={tmp_path}/none", f"paths.output_root={tmp_path}")
    assert result.returncode == 1 and "Traceback" in result.stdout + result.stderr

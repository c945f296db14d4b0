"""Checkpoints are replaced atomically and load with weights_only=True."""

from __future__ import annotations

import pytest
import torch

from signlang.core.errors import DataError
from signlang.core.files import atomic_write
from signlang.runs.checkpoints import load_checkpoint, save_checkpoint


def test_round_trip(tmp_path):
    path = tmp_path / "c" / "m_last.pt"
    save_checkpoint(
        path, {"model": {"w": torch.ones(2)}, "epoch": 3, "gloss_names": ["a", "b"], "config": {"x": [1, 2.5, None]}}
    )
    state = load_checkpoint(path)
    assert (
        state["epoch"] == 3 and state["gloss_names"] == ["a", "b"] and torch.equal(state["model"]["w"], torch.ones(2))
    )
    assert [p.name for p in path.parent.iterdir()] == ["m_last.pt"]  # no temp files left


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "m_last.pt"
    save_checkpoint(path, {"epoch": 1})

    def crash(f):
        f.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(path, crash)
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["m_last.pt"]


def test_damaged_or_missing_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_checkpoint(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="not a readable signlang checkpoint"):
        load_checkpoint(bad)


class Opaque:
    pass


def test_arbitrary_pickled_objects_are_not_loaded(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"obj": Opaque()}, path)
    with pytest.raises(DataError):
        load_checkpoint(path)

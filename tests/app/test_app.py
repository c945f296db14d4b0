"""The app's pages, in-process through Streamlit's own test harness (streamlit.testing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

MAIN = Path(__file__).resolve().parents[2] / "signlang" / "app" / "main.py"


def open_app(root: Path, page: str = "Runs") -> AppTest:
    at = AppTest.from_file(str(MAIN), default_timeout=120)
    at.session_state["root"] = str(root)
    at.run()
    if page != "Runs":
        at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    return at


def captions(at: AppTest) -> list[str]:
    """The captions of the images on the page (the skeleton animation, the current frame)."""
    images = [
        e for e in at.main if e.type in ("image", "imgs")
    ]  # the element's name differs between Streamlit versions
    return [image.proto.imgs[0].caption for image in images]


def test_runs_page_lists_the_run_and_shows_its_report(trained_run):
    at = open_app(trained_run["run"].parent)
    runs = at.dataframe[0].value
    assert runs["folder"].tolist() == ["run"] and runs["status"].tolist() == ["finished"]
    assert list(runs.columns).index("test_gloss") < list(runs.columns).index("overrides")
    assert at.selectbox(key="runs-run").value == "run"
    assert any("evaluation on test" in c.value for c in at.caption)
    headline = at.table[0].value
    assert headline["split"].tolist() == ["test"] and headline["clips"].tolist() == [12]
    per_class = at.dataframe[1].value
    assert set(per_class["class"]) <= {f"SIGN {i}" for i in range(6)}  # names from data.label_names
    at.text_input(key="runs-filter").set_value("status=failed").run()
    assert any("no runs match the filter" in i.value for i in at.info)


def test_clips_page_shows_statistics_a_skeleton_and_validation(trained_run):
    at = open_app(trained_run["run"].parent, "Clips")
    data = trained_run["data"]
    at.text_input(key="clips-folder").set_value(str(data / "keypoints_train"))
    at.text_input(key="clips-labels").set_value(str(data / "train_labels.csv")).run()
    assert not at.exception and not at.error
    assert at.metric[0].value == "24"  # clips
    assert at.selectbox(key="clips-clip").value == "train_00000"
    assert captions(at) == [
        "train_00000.npz: 9 frames (pose blue, left hand orange, right hand green, face purple)",
        "frame 1",
    ]
    at.slider(key="clips-frame").set_value(3).run()
    assert captions(at)[1] == "frame 3"
    assert at.success and "nothing wrong" in at.success[0].value


def test_predict_page_predicts_a_clip_and_a_bad_one_is_one_message(trained_run, tmp_path, monkeypatch):
    import tempfile

    scratch = tmp_path / "tmp"  # the app's temporary folder: each answer's work folder is gone after it
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    at = open_app(trained_run["run"].parent, "Predict")
    clip = sorted((trained_run["data"] / "keypoints_test").glob("*.npz"))[0]
    at.text_input(key="predict-path").set_value(str(clip)).run()
    assert not at.exception and not at.error
    assert at.subheader[0].value.startswith("SIGN ")  # the top gloss, by name
    bad = tmp_path / "features.npz"
    np.savez(bad, X=np.zeros((5, 2048), np.float32))
    at.text_input(key="predict-path").set_value(str(bad)).run()
    assert not at.exception and "width 2048" in at.error[0].value  # one message, the app goes on
    assert not list(scratch.glob("signlang-app-*"))
    at.sidebar.radio(key="page").set_value("Runs").run()
    assert not at.exception and at.dataframe[0].value["folder"].tolist() == ["run"]


def test_the_runs_page_reads_the_clip_report_not_an_open_set_or_stream_report(trained_run, tmp_path):
    import json
    import shutil

    from signlang.app import logic

    root = tmp_path / "exp"
    shutil.copytree(trained_run["run"], root / "run")
    newer = root / "run" / "eval" / "test_open"  # written after the clip report, with other numbers
    newer.mkdir()
    (newer / "metrics.json").write_text(json.dumps({"split": "test", "all_unknown": {"auroc": 0.9}}))
    report = logic.run_report(root / "run")
    assert report.split == "test" and report.headline["clips"] == 12
    at = open_app(root)
    assert not at.exception


def test_live_rows_list_the_newest_sign_first_with_when_it_was_shown():
    import time

    from signlang.app.logic import live_rows
    from signlang.evaluation.live import LiveSign

    def sign(label: str, start: float) -> LiveSign:
        answer = {"answer": label, "gloss": [{"label": label, "confidence": 0.9}]}
        return LiveSign(0, 10, start, start + 1, answer, 0.4, 5.0, time.monotonic() - 0.5)

    signs = [sign("HELLO", 0.0), sign("unknown", 2.0)]
    rows = live_rows(signs)
    assert [r["sign"] for r in rows] == ["unknown", "HELLO"] and [r["#"] for r in rows] == [2, 1]
    assert all(0.5 <= s.shown_s < 5 for s in signs)  # set once, when first shown
    first = signs[0].shown_s
    live_rows(signs)
    assert signs[0].shown_s == first

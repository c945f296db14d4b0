"""The app's three pages: Runs, Clips, Predict (Streamlit layout of ``signlang.app.logic``)."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from signlang.app import logic
from signlang.core.errors import SignlangError
from signlang.data.segments import CLOSE_GAP_S
from signlang.figures.skeleton import clip_frames, gif_bytes
from signlang.runs.record import PANELS
from signlang.runs.table import METRICS, SORT_KEYS

CURVES = [c for panel in PANELS.values() for c in panel]  # what "Compare runs" can overlay


def _run_columns() -> dict:
    """How the Runs table shows each column: a grid with fixed widths (long overrides and problems are
    cut to their column and shown whole on hover), numbers to three decimals."""
    text, number = st.column_config.TextColumn, st.column_config.NumberColumn
    columns = {
        "folder": text("folder", width="medium", pinned=True),
        "overrides": text("overrides", width="large", help="the overrides in which the listed runs differ"),
        "epochs": number("epochs", format="%d", width="small"),
        "wall (min)": number("wall (min)", format="%.1f", width="small"),
        "problem": text("problem", width="medium"),
    }
    return {**columns, **{m: number(m.replace("_", " "), format="%.3f", width="small") for m in METRICS}}


@st.cache_data(ttl=5, show_spinner=False)
def _run_table(root: str, filters: str, sort: str):
    return logic.run_table(Path(root), filters, sort)


@st.cache_data(show_spinner=False, max_entries=32)  # keyed by path: each upload's is new
def _frames(path: str, mtime: float, aspect: float = 0.75):
    x, mask, fps = logic.keypoints(Path(path))
    frames = clip_frames(x, mask, (480, round(480 * aspect)))
    return frames, gif_bytes(frames, fps), fps


def _play(path: Path, key: str) -> None:
    """A clip's skeleton: the animation, and a frame slider to step through it."""
    frames, gif, _ = _frames(str(path), path.stat().st_mtime)
    left, right = st.columns(2)
    left.image(
        gif, caption=f"{path.name}: {len(frames)} frames (pose blue, left hand orange, right hand green, face purple)"
    )
    t = right.slider("frame", 1, len(frames), 1, key=f"{key}-frame")
    right.image(frames[t - 1], caption=f"frame {t}")


# ------------------------------------------------------------------------------------------ runs
def runs(root: Path) -> None:
    columns = _run_columns()
    st.header("Runs")
    if not root.is_dir():
        st.info(f"{root} holds no runs yet: train one with python run.py")
        return
    left, right = st.columns([3, 1])
    filters = left.text_input("filter", placeholder="status=finished model=gru optim.lr=0.001", key="runs-filter")
    sort = right.selectbox("sort by", SORT_KEYS, index=SORT_KEYS.index("started"), key="runs-sort")
    table = _run_table(str(root), filters, sort)
    if table.empty:
        st.info("no runs" + (" match the filter" if filters else ""))
        return
    st.dataframe(table, hide_index=True, column_config=columns)
    sweeps = logic.sweep_table(root)
    if not sweeps.empty:
        st.subheader("Sweeps: mean ± std over seeds")
        st.table(sweeps)

    st.subheader("One run")
    folder = st.selectbox("run", table["folder"].tolist(), key="runs-run")
    report = logic.run_report(root / folder)
    if not report.metrics.empty:
        c1, c2 = st.columns(2)
        c1.caption("loss per epoch")
        c1.line_chart(report.metrics.set_index("epoch")[list(PANELS["loss"])])
        c2.caption("accuracy per epoch")
        accuracy = [*PANELS["gloss accuracy"], *PANELS["category accuracy"]]
        c2.line_chart(report.metrics.set_index("epoch")[[c for c in accuracy if c in report.metrics]])
    if report.split is None:
        st.info("this run has no evaluation report yet")
    else:
        st.caption(f"evaluation on {report.split}")
        st.table({k: [v] for k, v in report.headline.items()})
        c1, c2 = st.columns([3, 2])
        if report.confusion_png:
            c1.image(str(report.confusion_png), caption="gloss confusion (row-normalised)")
        c2.caption("per-class accuracy, worst first")
        c2.dataframe(report.per_class, hide_index=True, height=420)
        st.caption("worst confusions and the clips behind them")
        st.table(report.confusions.head(10))
        if not report.confusions.empty:
            clips = [c for row in report.confusions.head(10)["clips"] for c in row.split(", ")]
            name = st.selectbox("play a confused clip", clips, key="runs-clip")
            path = logic.find_clip(name, logic.run_clip_dirs(root / folder))
            if path:
                _play(path, "runs")
            else:
                st.info(f"{name}.npz is not in the folders this run read")

    st.subheader("Compare runs")
    chosen = st.multiselect("runs to overlay", table["folder"].tolist(), key="runs-compare")
    if len(chosen) >= 2:
        column = st.selectbox("curve", CURVES, index=CURVES.index("val_gloss_acc"), key="runs-curve")
        st.line_chart(logic.curves({c: root / c for c in chosen}, column))


# ----------------------------------------------------------------------------------------- clips
def clips(root: Path) -> None:
    st.header("Clips")
    left, right = st.columns(2)
    folder = left.text_input("folder of .npz clips", key="clips-folder")
    labels = right.text_input("labels CSV (optional)", key="clips-labels")
    if not folder:
        st.info("give a folder of extracted clips (e.g. ../shared/data/fsl105/keypoints)")
        return
    try:
        stats = logic.dataset_stats(Path(folder), Path(labels) if labels else None)
    except SignlangError as e:
        st.error(str(e))
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("clips", len(stats.clips))
    c2.metric("median length", f"{int(sorted(stats.lengths)[len(stats.lengths) // 2])} frames")
    c3.metric("occluded", "—" if stats.occluded_share is None else f"{100 * stats.occluded_share:.1f} %")
    c1, c2 = st.columns(2)
    c1.caption("clip lengths (frames)")
    c1.bar_chart(logic.length_histogram(stats.lengths))
    if not stats.class_counts.empty:
        c2.caption("clips per gloss")
        c2.bar_chart(stats.class_counts)
    name = st.selectbox("clip", stats.clips, key="clips-clip")
    path = Path(folder) / f"{name}.npz"
    try:
        x, mask, _ = logic.keypoints(path)
    except SignlangError as e:
        st.error(str(e))
        return
    _play(path, "clips")
    st.caption("wrist trajectories (image coordinates; gaps where the wrist was not found)")
    st.line_chart(logic.trajectories(x, mask))
    problems = logic.clip_problems(path)
    if problems:
        st.warning("signlang validate: " + "; ".join(problems))
    else:
        st.success("signlang validate finds nothing wrong with this clip")


# --------------------------------------------------------------------------------------- predict
def predict(root: Path) -> None:
    st.header("Predict")
    runs = logic.checkpointed_runs(root)
    if not runs:
        st.info(f"no trained run under {root} yet")
        return
    run = st.selectbox("run", runs, key="predict-run")
    source = st.radio("from", ["a file", "the camera"], horizontal=True, key="predict-source")
    if source == "the camera":
        camera(root / run)
        return
    upload = st.file_uploader("a video or a .npz clip", type=[*logic.VIDEO_TYPES, "npz"], key="predict-upload")
    picked = st.text_input("... or the path of a clip or video", key="predict-path")
    if upload is None and not picked:
        return
    with logic.upload_dir() as work:  # the upload and its extraction, removed once the answer is shown
        _predict_into(work, root / run, upload, picked)


def _predict_into(work: Path, run_dir: Path, upload, picked: str) -> None:
    """Predict the uploaded (else the picked) file with ``run_dir``'s model and show the answer;
    an upload and a video's clip go into ``work``."""
    with st.status("preparing", expanded=True) as status:
        try:
            started = time.perf_counter()
            if upload is not None:
                source = work / Path(upload.name).name
                source.write_bytes(upload.getvalue())
            else:
                source = Path(picked)
                if not source.is_file():
                    raise SignlangError(f"no such file: {source}")
            video = source.suffix.lower().lstrip(".") in logic.VIDEO_TYPES
            if video:
                status.update(label=f"extracting {source.name} as the run's clips were (MediaPipe)")
                clip = logic.extract_video(source, run_dir, work)
                if not logic.person_found(clip):
                    raise SignlangError(f"{source.name}: no person found in the video")
            else:
                clip = source
            status.update(label="predicting")
            result = logic.predict(run_dir, clip)
            status.update(label=f"done in {time.perf_counter() - started:.1f} s", state="complete", expanded=False)
        except SignlangError as e:
            status.update(label="could not predict", state="error")
            st.error(str(e))
            return
        except Exception as e:  # a bad upload must never take the app down
            status.update(label="could not predict", state="error")
            st.error(
                f"{source.name if 'source' in locals() else 'the upload'} could not be read ({type(e).__name__}: {e})"
            )
            return
    best = result["gloss"][0]
    if result["known"]:
        st.subheader(f"{best['label']}  ({100 * best['confidence']:.1f} %)")
    else:
        st.subheader("unknown: not a sign this run knows")
        st.caption(f"nearest gloss {best['label']} ({100 * best['confidence']:.1f} %), {logic.rejection_note(result)}")
    categories = result.get("category")  # none for a dataset without categories
    if categories:
        st.caption(f"category: {categories[0]['label']} ({100 * categories[0]['confidence']:.1f} %)")
    left, right = st.columns(2)
    left.table(
        {
            "gloss": [g["label"] for g in result["gloss"]],
            "confidence": [f"{g['confidence']:.3f}" for g in result["gloss"]],
        }
    )
    if categories:
        right.table(
            {
                "category": [c["label"] for c in categories],
                "confidence": [f"{c['confidence']:.3f}" for c in categories],
            }
        )
    if video:
        left.video(str(source))
    try:
        frames, gif, _ = _frames(str(clip), clip.stat().st_mtime, logic.video_aspect(source) if video else 0.75)
        (right if video else left).image(gif, caption=f"extracted skeleton, {len(frames)} frames")
    except SignlangError:
        st.caption("(a features clip: no skeleton to show)")


def camera(run_dir: Path) -> None:
    """Live: the browser's camera -> keypoints -> signs -> glosses as they are signed, with the
    skeleton drawn over the picture. Everything runs here, in this process and one worker beside it
    (``signlang.evaluation.live``); the picture goes from the browser to this machine only."""
    try:
        from streamlit_webrtc import WebRtcMode, webrtc_streamer
    except ImportError:
        st.error("the camera needs streamlit-webrtc: pip install -e '.[app]'")
        return
    live = logic.live_session(st.session_state, run_dir)
    st.caption(
        f"sign with your hands down between signs; a sign is read {CLOSE_GAP_S:.1f} s after your hands go "
        f"down. Keypoints at {live.worker.fps:.0f} frames a second."
    )
    picture, listing = st.columns([3, 2])
    with picture:
        context = webrtc_streamer(
            key="camera",
            mode=WebRtcMode.SENDRECV,
            video_frame_callback=live.on_frame,
            rtc_configuration={"iceServers": []},  # this machine only: no STUN or TURN server
            media_stream_constraints={"video": {"width": 640, "height": 480}, "audio": False},
        )
    signs, stats = listing.empty(), listing.empty()
    while context.state.playing:
        if live.worker.error:
            st.error(f"the live worker stopped: {live.worker.error}")
            break
        rows = logic.live_rows(live.worker.signs)
        with signs.container():
            if rows:
                newest = rows[0]
                st.subheader(f"{newest['sign']}  ({newest['confidence']})")
                st.table(pd.DataFrame(rows).set_index("#"))
            else:
                st.info("waiting for the first sign" if live.worker.ready else "starting MediaPipe and the model")
        stats.caption(logic.live_status(live.worker))
        time.sleep(0.2)

"""Check a folder of ``.npz`` clips (and its labels CSV) before training on it.

    signlang validate DIR [--labels CSV] [--key X] [--require-x2048] [--num-gloss N] [--num-cat N]
    python -m signlang.data.validate DIR ...

Every file is opened with ``allow_pickle=False`` and every problem is listed, not just the first.
Exit status: 0 when there are no errors (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from signlang.core.errors import DataError
from signlang.core.layout import FACE, FEATURE_DIM, KEYPOINT_DIM, LEFT_HAND, NUM_POINTS, POSE, RIGHT_HAND
from signlang.core.threads import retry_spurious_ast_error
from signlang.data.labels import label_problems, read_label_table
from signlang.data.npz import array_problems

PER_FRAME = ("X", "X2048", "mask", "timestamps_ms")
GROUPS = {
    "pose": slice(POSE.start, POSE.stop),
    "left hand": slice(LEFT_HAND.start, LEFT_HAND.stop),
    "right hand": slice(RIGHT_HAND.start, RIGHT_HAND.stop),
    "face": slice(FACE.start, FACE.stop),
}


@dataclass
class Finding:
    file: str
    severity: str  # "error" | "warning"
    message: str
    kind: str = ""  # groups warnings of one sort in the summary


@dataclass
class Report:
    directory: Path
    files: int = 0
    frames: int = 0
    findings: list[Finding] = field(default_factory=list)
    label_rows: int | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def clean(self) -> bool:
        return not self.errors


@retry_spurious_ast_error  # validate reads clips in threads
def read_members(path: Path) -> dict[str, np.ndarray]:
    """Every array of one ``.npz``; reading every member also checks its CRC."""
    with np.load(path, allow_pickle=False) as z:
        return {name: z[name] for name in z.files}


def check_clip(path: Path, key: str = "X", require_x2048: bool = False) -> tuple[list[Finding], int]:
    """Every problem of one clip, and its frame count (0 when unreadable)."""
    found: list[Finding] = []
    error = lambda msg: found.append(Finding(path.name, "error", msg))  # noqa: E731
    try:
        arrays = read_members(path)
    except ValueError as e:
        if "allow_pickle" in str(e):
            error("holds pickled (object) arrays; save plain numeric arrays")
        else:
            error(f"unreadable .npz ({e})")
        return found, 0
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        error(f"unreadable, corrupt or truncated .npz ({type(e).__name__}: {e})")
        return found, 0

    required = [key] + (["X2048"] if require_x2048 and key != "X2048" else [])
    for name in required:
        if name not in arrays:
            error(f"missing array {name!r} (has {', '.join(sorted(arrays)) or 'nothing'})")
    widths = {key: FEATURE_DIM if key == "X2048" else KEYPOINT_DIM, "X2048": FEATURE_DIM}
    for name, width in widths.items():
        if name in arrays:
            for message in array_problems(path, name, arrays[name], width):
                error(message.split(": ", 1)[1])
    mask = arrays.get("mask")
    if mask is not None and (mask.ndim != 2 or mask.shape[1] != NUM_POINTS):
        error(f"'mask' has shape {list(mask.shape)}, expected [T, {NUM_POINTS}]")
    if "timestamps_ms" in arrays:
        ts = arrays["timestamps_ms"]
        if ts.ndim != 1:
            error(f"'timestamps_ms' has shape {list(ts.shape)}, expected [T]")
        elif len(ts) > 1 and np.any(np.diff(ts) < 0):
            found.append(
                Finding(path.name, "warning", "'timestamps_ms' is not increasing", "timestamps not increasing")
            )
    lengths = {name: len(arrays[name]) for name in PER_FRAME if name in arrays and arrays[name].ndim >= 1}
    if len(set(lengths.values())) > 1:
        error("arrays disagree on T: " + ", ".join(f"{k} {v}" for k, v in lengths.items()))
    if "meta" in arrays and arrays["meta"].dtype.kind not in "US":
        found.append(
            Finding(
                path.name, "warning", f"'meta' is {arrays['meta'].dtype}, expected a JSON string", "meta not a string"
            )
        )

    x = arrays.get(key)
    if key != "X2048" and x is not None and x.ndim == 2 and x.shape[1] == KEYPOINT_DIM and np.isfinite(x).all():
        detected = x != 0  # undetected points are stored as exact zeros
        outside = detected & ((x < 0) | (x > 1))
        if outside.any():
            share = outside.sum() / max(1, detected.sum())
            per_point = outside.reshape(len(x), NUM_POINTS, 2).any(axis=(0, 2))
            parts = [name for name, span in GROUPS.items() if per_point[span].any()]
            message = f"{share:.1%} of detected keypoint coordinates lie outside [0, 1] ({', '.join(parts)})"
            found.append(Finding(path.name, "warning", message, "keypoints outside [0, 1]"))
    return found, max(lengths.values(), default=0)


def validate(
    directory: str | Path,
    labels: str | Path | None = None,
    key: str = "X",
    require_x2048: bool = False,
    num_gloss: int | None = None,
    num_cat: int | None = None,
    workers: int = 4,
) -> Report:
    """Check every ``.npz`` in ``directory`` and, with ``labels``, the CSV against the files."""
    directory = Path(directory)
    report = Report(directory)
    if not directory.is_dir():
        report.findings.append(Finding(str(directory), "error", "not a directory"))
        return report
    paths = sorted(p for p in directory.iterdir() if p.name.lower().endswith(".npz"))
    report.files = len(paths)
    if not paths:
        report.findings.append(Finding(str(directory), "error", "holds no .npz files"))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for found, frames in pool.map(lambda p: check_clip(p, key, require_x2048), paths):
            report.findings.extend(found)
            report.frames += frames
    if labels is not None:
        report.findings.extend(_check_labels(Path(labels), {p.name[:-4] for p in paths}, num_gloss, num_cat, report))
    return report


def _check_labels(
    path: Path, clips: set[str], num_gloss: int | None, num_cat: int | None, report: Report
) -> list[Finding]:
    try:
        table = read_label_table(path)
    except DataError as e:
        return [Finding(path.name, "error", str(e))]
    report.label_rows = len(table)
    found = []
    if "occluded" not in table.columns:
        found.append(Finding(path.name, "warning", "no 'occluded' column (treated as 0)"))
    df, problems = label_problems(table, path, num_gloss, num_cat)
    found += [Finding(path.name, "error", p.split(": ", 1)[-1]) for p in problems]
    listed = set(df["file"]) - {""}
    missing = sorted(listed - clips)
    if missing:
        found.append(
            Finding(
                path.name,
                "error",
                f"{len(missing)} row(s) name a clip that is not in the folder: {', '.join(missing[:5])}",
            )
        )
    for name in sorted(clips - listed):
        found.append(Finding(f"{name}.npz", "error", f"no row in {path.name}"))
    return found

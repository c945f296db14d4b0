"""Public datasets in their own formats, into the seed layout (``signlang import``).

A user of WLASL has its split file (``nslt_100.json``, or ``WLASL_v0.3.json``) and a folder of
videos named by video id; a user of LSA64 or a dataset like it has videos named
``sign_signer_repetition.mp4``. Each reader here turns that into a list of :class:`Entry` (which
video, which split, which gloss and signer, which frames), and :func:`write_layout` extracts the
videos into ``keypoints_<split>/`` with ``<split>_labels.csv`` (``file,gloss,cat,occluded,signer``:
``data.val_group_by=signer`` then carves a val split of signers training never sees) and
``label_names.csv`` from the dataset's own class list.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signlang.core.errors import ConfigError, DataError, summarize
from signlang.core.video import VIDEO_SUFFIXES, find_videos
from signlang.data.labels import LABEL_COLUMNS, NAME_COLUMNS
from signlang.data.stratify import SPLITS
from signlang.extract.pipeline import Options, check_options, run_jobs

WLASL_SPLITS = {"train": "train", "val": "val", "test": "test"}  # WLASL's "subset" / "split" values
SIGNER_COLUMN = "signer"


@dataclass(frozen=True)
class Entry:
    """One clip of a dataset: where its video is and what it is."""

    video: Path
    name: str  # the clip's name in the layout (``<name>.npz``)
    split: str  # train | val | test
    gloss: int  # 0-based
    signer: str = ""  # "" where the dataset does not say
    frames: tuple[int, int] | None = None  # source frames first..last (1-based; last -1: to the end)


@dataclass
class Dataset:
    """A dataset read in its own format."""

    entries: list[Entry]
    glosses: list[str]  # names, in id order
    category: str  # the one category every gloss is in (the language): data.num_cat=1
    missing: list[str] = field(default_factory=list)  # clips the split file lists whose video is not there


def _videos_by_stem(folder: Path) -> dict[str, Path]:
    if not Path(folder).is_dir():
        raise DataError(f"no such folder of videos: {folder}")
    return {p.stem: p for p in find_videos(Path(folder))}


def read_class_list(path: Path) -> list[str]:
    """Class names in id order: WLASL's ``wlasl_class_list.txt`` (``id<TAB>name`` per line), a names CSV
    ``id,label[,category]`` or ``ClassId,...,EN`` (AUTSL's), or a text file with one name per line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such class list: {path}")
    lines = [line.rstrip("\n\r") for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    if lines and "," in lines[0] and not lines[0].split(",")[0].strip().isdigit():  # a CSV with a header
        rows = list(csv.DictReader(lines))
        key = next((k for k in rows[0] if k.strip().lower() in ("id", "classid", "class_id")), None)
        label = next((k for k in rows[0] if k.strip().lower() in ("label", "name", "en", "gloss")), None)
        if key is None or label is None:
            raise DataError(f"{path}: a class list CSV needs an id column and a label (or name, EN) column")
        table = {int(r[key]): r[label].strip() for r in rows}
    elif lines and re.match(r"^\d+\s", lines[0]):  # id<TAB>name
        table = {int(a): b.strip() for a, b in (re.split(r"\s+", line.strip(), maxsplit=1) for line in lines)}
    else:
        return [line.strip() for line in lines]
    if sorted(table) != list(range(len(table))):
        raise DataError(f"{path}: class ids must run 0..{len(table) - 1} without gaps")
    return [table[i] for i in range(len(table))]


# ------------------------------------------------------------------------------------------ WLASL
def wlasl(
    split_file: Path,
    videos: Path,
    metadata: Path | None = None,
    class_list: Path | None = None,
    subset: int | None = None,
) -> Dataset:
    """WLASL: ``nslt_<N>.json`` (``{video_id: {"subset", "action": [class, first, last]}}``) or
    ``WLASL_v0.3.json`` (glosses in class order, each with its ``instances``), and ``videos/<id>.mp4``.

    Class names come from ``class_list`` (``wlasl_class_list.txt``) or from ``WLASL_v0.3.json``'s
    gloss order; signers from ``WLASL_v0.3.json`` (``metadata``, or the split file itself). With
    ``WLASL_v0.3.json`` as the split file, ``subset`` keeps its first N glosses (WLASL100: 100).
    """
    data = _read_json(split_file)
    on_disk = _videos_by_stem(videos)
    if isinstance(data, list):  # WLASL_v0.3.json
        meta = data
        kept = data[:subset] if subset else data
        items = [
            (str(inst["video_id"]), inst["split"], gloss_id, inst.get("frame_start", 1), inst.get("frame_end", -1))
            for gloss_id, entry in enumerate(kept)
            for inst in entry["instances"]
        ]
    elif isinstance(data, dict):  # nslt_<N>.json
        meta = _read_json(metadata) if metadata else None
        items = []
        for video_id, info in data.items():
            try:
                gloss_id, first, last = info["action"]
                items.append((str(video_id), info["subset"], int(gloss_id), int(first), int(last)))
            except (KeyError, TypeError, ValueError):
                raise DataError(
                    f"{split_file}: entry {video_id!r} lacks subset and action [class, first, last]"
                ) from None
    else:
        raise DataError(f"{split_file}: neither nslt_<N>.json (an object) nor WLASL_v0.3.json (a list)")
    signers = {str(i["video_id"]): str(i.get("signer_id", "")) for e in meta or [] for i in e["instances"]}
    count = max(g for _, _, g, _, _ in items) + 1 if items else 0
    if class_list:
        names = read_class_list(class_list)
    elif meta is not None:
        names = [str(e["gloss"]).upper() for e in meta]
    else:
        names = [str(i) for i in range(count)]
    if len(names) < count:
        raise DataError(f"the class list has {len(names)} names but {split_file} uses class ids up to {count - 1}")
    entries, missing = [], []
    for video_id, subset_name, gloss_id, first, last in items:
        if subset_name not in WLASL_SPLITS:
            raise DataError(f"{split_file}: video {video_id} is in subset {subset_name!r}, not train, val or test")
        if video_id not in on_disk:
            missing.append(video_id)
            continue
        whole = first <= 1 and last in (-1, 0)
        entries.append(
            Entry(
                on_disk[video_id],
                video_id,
                WLASL_SPLITS[subset_name],
                gloss_id,
                signers.get(video_id, ""),
                None if whole else (first, last),
            )
        )
    return Dataset(entries, names[:count], "ASL", sorted(missing))


def _read_json(path: Path | None) -> Any:
    if path is None or not Path(path).is_file():
        raise DataError(f"no such file: {path}")
    try:
        return json.loads(Path(path).read_text())
    except ValueError as e:
        raise DataError(f"{path} is not JSON ({e})") from None


# ------------------------------------------------------------------- sign_signer_repetition names
NAME_FIELDS = ("gloss", "signer", "repetition")


def pattern_regex(pattern: str) -> re.Pattern:
    """``{gloss}_{signer}_{repetition}`` (any of the three, in any order, between literal text) as a
    regular expression on a video's file name without its suffix."""
    parts, pos, seen = [], 0, set()
    for m in re.finditer(r"\{(\w+)\}", pattern):
        if m.group(1) not in NAME_FIELDS:
            raise ConfigError(
                f"--pattern {pattern!r}: {{{m.group(1)}}} is not one of {{gloss}}, {{signer}}, {{repetition}}"
            )
        if m.group(1) in seen:
            raise ConfigError(f"--pattern {pattern!r}: {{{m.group(1)}}} appears twice")
        seen.add(m.group(1))
        parts += [re.escape(pattern[pos : m.start()]), f"(?P<{m.group(1)}>.+?)"]
        pos = m.end()
    if "gloss" not in seen:
        raise ConfigError(f"--pattern {pattern!r} needs {{gloss}}")
    return re.compile("^" + "".join(parts) + re.escape(pattern[pos:]) + "$")


def from_names(
    videos: Path,
    pattern: str = "{gloss}_{signer}_{repetition}",
    class_list: Path | None = None,
    first_id: int = 1,
    val_signers: tuple[str, ...] = (),
    test_signers: tuple[str, ...] = (),
    category: str = "",
) -> Dataset:
    """Videos named like ``001_004_002.mp4`` (LSA64: sign 1, signer 4, repetition 2). A numeric gloss
    counts from ``first_id`` (LSA64: 1); a gloss given by name gets the id of its place in the class
    list (or, without one, in sorted order). The dataset has no split file: the signers in
    ``val_signers`` and ``test_signers`` make val and test, the rest train."""
    regex = pattern_regex(pattern)
    found = find_videos(Path(videos)) if Path(videos).is_dir() else []
    if not found:
        raise DataError(f"{videos}: no videos ({', '.join(s[1:] for s in VIDEO_SUFFIXES[:4])}, ...)")
    matched, unmatched = [], []
    for path in found:
        m = regex.match(path.stem)
        (matched if m else unmatched).append((path, m))
    if unmatched:
        raise DataError(
            f"{len(unmatched)} video name(s) do not fit --pattern {pattern!r}: "
            f"{summarize([p.name for p, _ in unmatched], sep=', ')}"
        )
    names = read_class_list(class_list) if class_list else None
    values = [m["gloss"] for _, m in matched]
    if all(v.isdigit() for v in values):
        ids = [int(v) - first_id for v in values]
        if min(ids) < 0:
            raise ConfigError(f"a gloss number below --first-id {first_id}; give --first-id 0 for names counted from 0")
        names = names or [str(i) for i in range(max(ids) + 1)]
    else:
        names = names or sorted(set(values))
        index = {n: i for i, n in enumerate(names)}
        absent = sorted(set(values) - set(index))
        if absent:
            raise DataError(f"gloss name(s) not in the class list: {summarize(absent, sep=', ')}")
        ids = [index[v] for v in values]
    if max(ids) >= len(names):
        raise DataError(f"the class list has {len(names)} names but the videos number glosses up to {max(ids)}")
    clash = set(val_signers) & set(test_signers)
    if clash:
        raise ConfigError(f"signer(s) {', '.join(sorted(clash))} cannot be in both val and test")
    entries = []
    for (path, m), gloss_id in zip(matched, ids):
        signer = m.groupdict().get("signer") or ""
        split = "val" if signer in val_signers else "test" if signer in test_signers else "train"
        entries.append(Entry(path, path.stem, split, gloss_id, signer))
    return Dataset(entries, names, category)


# ----------------------------------------------------------------------------------- the layout
def write_layout(dataset: Dataset, out: Path, options: Options, workers: int = 1, console=None) -> dict[str, Any]:
    """Extract every entry into ``out/keypoints_<split>/`` and write ``<split>_labels.csv`` and
    ``label_names.csv``; returns per-split counts and the videos that failed or were missing."""
    if not dataset.entries:
        raise DataError("no videos to import (none of the listed videos was found)")
    check_options(options)
    out = Path(out)
    jobs = [
        (e.video, out / f"keypoints_{e.split}", e.name, dataclasses.replace(options, frames=e.frames))
        for e in dataset.entries
    ]
    records = {r["file"][:-4]: r for r in run_jobs(jobs, workers, console)}
    counts, failed = {}, []
    for split in SPLITS:
        rows = []
        for e in (e for e in dataset.entries if e.split == split):
            r = records[e.name]
            if r["status"] == "failed":
                failed.append(f"{e.video.name}: {r['error']}")
                continue
            rows.append([f"{e.name}.npz", e.gloss, 0, r.get("occluded", 0), e.signer])
        if not rows:
            continue
        with open(out / f"{split}_labels.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([*LABEL_COLUMNS, SIGNER_COLUMN])
            writer.writerows(sorted(rows))
        counts[split] = len(rows)
    with open(out / "label_names.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(NAME_COLUMNS)
        writer.writerows([i, name, dataset.category or "all"] for i, name in enumerate(dataset.glosses))
    signers = {s: len({e.signer for e in dataset.entries if e.split == s and e.signer}) for s in counts}
    return {
        "counts": counts,
        "signers": signers,
        "glosses": len(dataset.glosses),
        "failed": failed,
        "missing": dataset.missing,
    }

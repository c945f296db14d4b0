"""Directories of per-clip ``.npz`` files plus a labels CSV ``file,gloss,cat,occluded``.

Everything is checked on load and refused with one message that names the file and the fix:
a training run should never start on data it would silently misread.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from signlang.core.errors import ConfigError, DataError, summarize
from signlang.core.files import atomic_write
from signlang.core.layout import DATA_FOR_KIND, INPUT_DIMS, NUM_POINTS
from signlang.core.threads import retry_spurious_ast_error
from signlang.data.cache import (
    CACHE_MODES,
    LazyClipSet,
    build_cached,
    cache_key,
    cache_root,
    fill_buffer,
    npz_length,
    open_cached,
)
from signlang.data.clips import ClipSet
from signlang.data.labels import read_label_table, read_labels
from signlang.data.module import ClipData, split_paths
from signlang.data.stratify import assign, folds

log = logging.getLogger(__name__)

SPLIT_RECORD = "data_split.csv"  # in a run folder: which training-CSV clips were carved out for val


def array_problems(path: Path, name: str, x: np.ndarray, width: int) -> list[str]:
    """What is wrong with a per-frame array that should be ``[T, width]`` floats, all finite."""
    if x.ndim != 2:
        return [f"{path.name}: {name!r} has shape {list(x.shape)}, expected [T, {width}]"]
    problems = []
    if x.shape[1] != width:
        problems.append(f"{path.name}: {name!r} has width {x.shape[1]}, expected {width}")
    if x.shape[0] == 0:
        problems.append(f"{path.name}: {name!r} has no frames (T = 0); drop the clip or re-extract it")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        problems.append(f"{path.name}: {name!r} has dtype {x.dtype}, expected float")
    elif not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).any(axis=1).sum())
        problems.append(f"{path.name}: {name!r} has NaN/inf values in {bad} frame(s); clean or re-extract the clip")
    return problems


@dataclass
class ClipArrays:
    """What one .npz contributes: the model input and, for keypoints, the detection mask."""

    x: np.ndarray
    mask: np.ndarray | None


def read_clip(path: Path, kind: str, key: str, fallback_key: str | None = None) -> ClipArrays:
    """Load one clip and check it; raises DataError naming the file and what is wrong."""
    width = INPUT_DIMS[kind]
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            use = key if key in files else None
            if (
                use is None
                and fallback_key in files
                and z[fallback_key].ndim == 2
                and z[fallback_key].shape[1] == width
            ):
                use = fallback_key
            if use is None:
                fallback = f" (nor a [T,{width}] {fallback_key!r})" if fallback_key else ""
                raise DataError(
                    f"{path.name}: no array {key!r}{fallback}; it has {', '.join(sorted(files)) or 'nothing'}. "
                    f"Set data.key to the array that holds the {kind}"
                )
            x = z[use]
            mask = z["mask"] if kind == "keypoints" and "mask" in files else None
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise DataError(
            f"{path.name}: unreadable, corrupt or truncated .npz ({type(e).__name__}: {e}); re-extract it"
        ) from None

    return check_arrays(path, kind, use, x, mask)


def check_arrays(path: Path, kind: str, key: str, x: np.ndarray, mask: np.ndarray | None) -> ClipArrays:
    """A clip's model input (``key``) and mask, checked: the width ``kind`` needs, finite, a mask that fits."""
    width = INPUT_DIMS[kind]
    if x.ndim == 2 and x.shape[1] != width:
        other = next((k for k, w in INPUT_DIMS.items() if k != kind and w == x.shape[1]), None)
        hint = f"these look like {other}: use {DATA_FOR_KIND[other]}" if other else "check data.key and the extraction"
        raise DataError(f"{path.name}: {key!r} has width {x.shape[1]}, but data={kind} needs {width}; {hint}")
    problems = array_problems(path, key, x, width)
    if problems:
        raise DataError(problems[0])
    if mask is not None:
        if mask.shape != (x.shape[0], NUM_POINTS):
            raise DataError(f"{path.name}: 'mask' has shape {list(mask.shape)}, expected [{x.shape[0]}, {NUM_POINTS}]")
        mask = mask.astype(bool, copy=False)
    return ClipArrays(x=x, mask=mask)


def load_split(
    directory: str | Path,
    labels: str | Path | None,
    *,
    kind: str,
    key: str,
    num_gloss: int,
    num_cat: int,
    fallback_key: str | None = None,
    dtype: type = np.float32,
    workers: int = 4,
    cache: str = "memory",
    cache_dir: str | None = None,
    only: Collection[str] | None = None,
) -> ClipSet | LazyClipSet:
    """Load every clip named by ``labels`` (or only the clips ``only`` names) from ``directory``,
    held as ``cache`` says (signlang.data.cache). ``labels`` None reads every ``.npz`` of the folder
    with label 0 (clips whose labels do not matter: signs outside a model's vocabulary)."""
    if cache not in CACHE_MODES:
        raise ConfigError(f"data.cache must be one of {', '.join(CACHE_MODES)}, got {cache!r}")
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"data directory not found: {directory}. Point data.*_dir at a folder of .npz clips")
    on_disk = {p.name[:-4]: p for p in directory.iterdir() if p.name.lower().endswith(".npz")}
    if not on_disk:
        raise DataError(f"{directory} holds no .npz files; point data.*_dir at the folder of extracted clips")
    if labels is None:
        table = pd.DataFrame({"file": sorted(on_disk), **{k: 0 for k in ("gloss", "cat", "occluded")}})
        cache = "memory" if cache == "mmap" else cache
    else:
        table = read_labels(labels, num_gloss, num_cat)
    absent = [f for f in table["file"] if f not in on_disk]
    if absent:
        raise DataError(
            f"{labels} lists {len(absent)} clip(s) not found in {directory}: {summarize(absent, sep=', ')}. "
            "Fix the file column or the directory"
        )
    unlabelled = len(on_disk) - len(table)
    if unlabelled and only is None:  # a part of the CSV (a carved val split) skips the rest on purpose
        log.warning("%s: %d .npz file(s) are not in %s and are ignored", directory, unlabelled, labels)
    if only is not None:
        table = table[table["file"].isin(set(only))].reset_index(drop=True)

    paths = [on_disk[f] for f in table["file"]]
    names = list(table["file"])
    targets = {k: table[k].to_numpy(np.int64) for k in ("gloss", "cat", "occluded")}
    width = INPUT_DIMS[kind]

    @retry_spurious_ast_error
    def read(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
        arrays = read_clip(path, kind, key, fallback_key)
        return arrays.x, arrays.mask

    if cache == "mmap":
        settings = {"kind": kind, "key": key, "fallback_key": fallback_key, "dtype": np.dtype(dtype).name}
        folder = cache_root(directory, cache_dir) / f"{directory.name}-{cache_key(paths, Path(labels), settings)}"
        if (folder / "meta.json").exists():
            log.info("%s: using the mmap cache %s", directory, folder)
            return open_cached(folder)

    # Pass 1: lengths from the array headers (cheap); files whose header is off get the full check.
    names_to_try = [key] + ([fallback_key] if fallback_key else [])
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        header = retry_spurious_ast_error(npz_length)
        headers = list(pool.map(lambda p: header(p, names_to_try), paths))
        masks = list(pool.map(lambda p: header(p, ["mask"]) is not None, paths)) if kind == "keypoints" else []
    suspicious = [p for p, h in zip(paths, headers) if h is None or h[1] == 0 or h[2] != width]
    problems = [r for r in (_try_read(p, kind, key, fallback_key) for p in suspicious) if isinstance(r, str)]
    if problems:
        raise DataError(f"{len(problems)} bad clip(s) in {directory}: {summarize(problems, 3)}")
    lengths = np.array([h[1] for h in headers], dtype=np.int64)
    with_mask = kind == "keypoints" and all(masks)

    # Pass 2: every clip read, checked and copied into its slice.
    def fill(offsets, buffer, mask) -> list[str]:
        return fill_buffer(paths, read, lengths, offsets, buffer, mask if with_mask else None, workers)

    if cache == "none":
        problems = fill_buffer(paths, read, lengths, np.zeros(len(paths) + 1, np.int64), _Discard(), None, workers)
        if problems:
            raise DataError(f"{len(problems)} bad clip(s) in {directory}: {summarize(problems, 3)}")
        return LazyClipSet(
            paths, lengths, width, read, targets["gloss"], targets["cat"], targets["occluded"], names, with_mask
        )
    if cache == "mmap":
        log.info("%s: building the mmap cache %s", directory, folder)
        return build_cached(folder, lengths, width, dtype, with_mask, fill, targets, names)
    offsets, buffer, mask = ClipSet.allocate(lengths, width, dtype, with_mask)
    problems = fill(offsets, buffer, mask)
    if problems:
        raise DataError(f"{len(problems)} bad clip(s) in {directory}: {summarize(problems, 3)}")
    return ClipSet(buffer=buffer, offsets=offsets, names=names, mask_buffer=mask, **targets)


class _Discard:
    """A write-only sink: lets ``cache=none`` validate every clip without keeping it."""

    def __setitem__(self, key, value) -> None:
        pass


def _try_read(path: Path, kind: str, key: str, fallback_key: str | None) -> ClipArrays | str:
    try:
        return read_clip(path, kind, key, fallback_key)
    except DataError as e:
        return str(e)


class NpzData(ClipData):
    """``data=keypoints`` / ``data=features``: folders of ``.npz`` clips with label CSVs.

    ``root`` is a dataset in the seed layout: a train or val path left null is
    ``<root>/keypoints_<split>`` and ``<root>/<split>_labels.csv``; a path that is set is used as given
    (relative to where you launch). Val comes from its own folder and CSV, or is carved from the
    training CSV at load time (``val_split``), or is fold ``val_fold`` of ``val_folds`` folds of it
    (cross-validation: one run per fold, and every clip is val once): stratified by gloss, optionally by
    whole groups (``val_group_by``, e.g. a signer column), seeded by ``split_seed``. The carve is
    recorded in the run folder (``bind_split``) so resume and ``signlang evaluate`` see exactly the
    same clips.
    """

    def __init__(
        self,
        *,
        kind: str,
        root: str | None = None,
        train_dir: str | None = None,
        train_labels: str | None = None,
        val_dir: str | None = None,
        val_labels: str | None = None,
        val_split: float | None = None,
        val_group_by: str | None = None,
        val_folds: int | None = None,
        val_fold: int = 0,
        split_seed: int = 0,
        test_dir: str | None = None,
        test_labels: str | None = None,
        key: str = "X",
        fallback_key: str | None = None,
        feature_dtype: str = "float32",
        cache: str = "memory",
        cache_dir: str | None = None,
        load_workers: int = 4,
        **common,
    ) -> None:
        super().__init__(kind=kind, cache=cache, **common)
        if (test_dir is None) != (test_labels is None):
            raise ConfigError("set both data.test_dir and data.test_labels, or neither")
        if val_split is not None:
            if not 0.0 < float(val_split) < 1.0:
                raise ConfigError(f"data.val_split must be a fraction in (0, 1), got {val_split}")
        if val_folds is not None:
            if isinstance(val_folds, bool) or not isinstance(val_folds, int) or val_folds < 2:
                raise ConfigError(f"data.val_folds is the number of folds, a whole number >= 2; got {val_folds!r}")
            if isinstance(val_fold, bool) or not isinstance(val_fold, int) or not 0 <= val_fold < val_folds:
                raise ConfigError(
                    f"data.val_fold={val_fold!r} is not one of the {val_folds} folds: "
                    f"use 0 .. {val_folds - 1} (sweep them with data.val_fold={','.join(map(str, range(val_folds)))})"
                )
            if val_split is not None:
                raise ConfigError(
                    "data.val_split and data.val_folds both carve val from the training CSV; choose one "
                    "(data.val_split=null for cross-validation, data.val_folds=null for one carved val)"
                )
        elif val_fold != 0:
            raise ConfigError(f"data.val_fold={val_fold} picks one of data.val_folds folds; set data.val_folds too")
        carve = "data.val_split" if val_split is not None else "data.val_folds" if val_folds is not None else None
        if carve and (val_dir is not None or val_labels is not None):
            raise ConfigError(
                f"{carve} carves val from the training CSV, but data.val_dir / data.val_labels name a val "
                f"folder too; choose one: drop {carve}, or data.val_dir and data.val_labels"
            )
        if val_group_by is not None and carve is None:
            raise ConfigError(
                "data.val_group_by groups the carved val split; set data.val_split (or data.val_folds) too"
            )
        if feature_dtype not in ("float32", "float16"):
            raise ConfigError(f"data.feature_dtype must be float32 or float16, got {feature_dtype!r}")
        self.paths = {"train": split_paths("train", root, "keypoints", train_dir, train_labels)}
        if carve is None:
            self.paths["val"] = split_paths("val", root, "keypoints", val_dir, val_labels)
        if test_dir is not None:
            self.paths["test"] = (test_dir, test_labels)
        self.val_split = None if val_split is None else float(val_split)
        self.val_group_by = val_group_by
        self.val_folds = val_folds
        self.val_fold = int(val_fold)
        self.split_seed = int(split_seed)
        self._assignment: pd.DataFrame | None = None  # file, gloss, split of the training CSV's rows when carving
        self._bound: Path | None = None  # the run folder's split record the assignment above is (bind_split)
        self.key = key
        self.fallback_key = fallback_key
        self.dtype = np.float16 if feature_dtype == "float16" else np.float32
        if cache not in CACHE_MODES:
            raise ConfigError(f"data.cache must be one of {', '.join(CACHE_MODES)}, got {cache!r}")
        self.cache_dir = cache_dir
        self.load_workers = load_workers

    def available(self) -> list[str]:
        return ["train", "val"] + (["test"] if "test" in self.paths else [])

    def _load_split(self, name: str) -> ClipSet:
        if self.carves and name in ("train", "val"):
            directory, labels = self.paths["train"]
            table = self.split_assignment()
            return self.load(directory, labels, only=table.loc[table["split"] == name, "file"])
        directory, labels = self.paths[name]
        return self.load(directory, labels)

    def extraction(self) -> dict | None:
        """The extraction settings the first training clip records in its ``meta`` (frame rate,
        MediaPipe settings, gap filling, InceptionV3 weights), or None for clips without them."""
        directory, _ = self.paths["train"]
        first = Path(directory) / f"{self.split('train').names[0]}.npz"
        try:
            with np.load(first, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
        except (OSError, ValueError):
            return None
        keys = (
            "target_fps",
            "conf_thresh",
            "interpolation_max_gap",
            "model_complexity",
            "mediapipe",
            "iv3_weights",
            "occlusion_overlap",
            "occlusion_frames",
            "signlang",
        )
        settings = {k: meta[k] for k in keys if k in meta}
        return settings or None

    # ------------------------------------------------------------------ carved val split
    @property
    def carves(self) -> bool:
        """Whether val is carved from the training CSV (``val_split`` or ``val_folds``)."""
        return self.val_split is not None or self.val_folds is not None

    def split_assignment(self) -> pd.DataFrame | None:
        """``file, gloss, split`` (train / val) for every row of the training CSV when val is carved
        from it, else None."""
        if not self.carves:
            return None
        if self._assignment is None:
            _, labels = self.paths["train"]
            table = read_labels(labels, self.num_gloss, self.num_cat)
            if self.val_group_by is not None:
                raw = read_label_table(labels)
                if self.val_group_by not in raw.columns:
                    columns = ", ".join(raw.columns)
                    raise DataError(f"data.val_group_by={self.val_group_by}: {labels} has no such column ({columns})")
                table[self.val_group_by] = raw[self.val_group_by].to_numpy()
            if self.val_folds is not None:
                fold = folds(table, self.val_folds, self.val_group_by, self.split_seed)
                table["split"] = np.where(fold == self.val_fold, "val", "train")
                setting = f"data.val_fold={self.val_fold} of data.val_folds={self.val_folds}"
                fix = "lower data.val_folds" + (
                    f": each fold needs a {self.val_group_by} group of its own" if self.val_group_by else ""
                )
            else:
                fractions = {"train": 1.0 - self.val_split, "val": self.val_split, "test": 0.0}
                table["split"] = assign(table, fractions, self.val_group_by, self.split_seed)
                setting = f"data.val_split={self.val_split}"
                fix = (
                    f"every {self.val_group_by} group is needed in train to cover its glosses; "
                    "raise data.val_split or carve without data.val_group_by"
                    if self.val_group_by
                    else "raise data.val_split"
                )
            self._assignment = table[["file", "gloss", "split"]].reset_index(drop=True)
            counts = self._assignment["split"].value_counts()
            if not counts.get("val", 0):
                raise DataError(f"{setting} carves no val clip from {labels}; {fix}")
            log.info(
                "val carved from %s: %d train / %d val clips (%s, seed %d%s)",
                labels,
                counts.get("train", 0),
                counts.get("val", 0),
                setting,
                self.split_seed,
                f", whole {self.val_group_by} groups" if self.val_group_by else "",
            )
            part = self._assignment.groupby("split")["gloss"].agg(set)
            unseen = sorted(part["val"] - part.get("train", set()))
            if unseen:
                log.warning(
                    "%d glosses of the carved val have no training clip (%s): their val clips count as errors "
                    "whatever the model does (all of a gloss's clips are in val%s)",
                    len(unseen),
                    summarize([str(g) for g in unseen], sep=", "),
                    f", or in one {self.val_group_by} group" if self.val_group_by else "",
                )
        return self._assignment

    def bind_split(self, folder: str | Path, write: bool = True) -> None:
        """Use the carved split recorded in run ``folder`` (``data_split.csv``) when there is one; else
        record this one there (``write``). A training CSV that no longer matches the record is refused."""
        if not self.carves:
            return
        record = Path(folder) / SPLIT_RECORD
        if record.resolve() == self._bound:  # bound already (pre-training, the fit, evaluation): keep what is loaded
            return
        if not record.is_file():
            if write:
                atomic_write(record, lambda f: f.write(self.split_assignment().to_csv(index=False).encode()))
                self._bound = record.resolve()
            return
        saved = pd.read_csv(record, dtype={"file": str, "split": str})
        _, labels = self.paths["train"]
        current = set(read_labels(labels, self.num_gloss, self.num_cat)["file"])
        if set(saved["file"]) != current:
            changed = sorted(set(saved["file"]) ^ current)
            raise DataError(
                f"{labels} no longer lists the clips this run was trained on ({len(changed)} differ: "
                f"{summarize(changed, sep=', ')}); its carved val split is in {record}. "
                "Restore the CSV, or start a new run"
            )
        self._assignment = saved[["file", "gloss", "split"]]
        self._forget("train", "val")
        self._bound = record.resolve()

    def load(self, directory: str | Path, labels: str | Path | None, only: Collection[str] | None = None) -> ClipSet:
        """Any folder + CSV read the way this dataset reads its splits (also for evaluating other data;
        ``labels`` None: every clip of the folder, unlabelled)."""
        return load_split(
            directory,
            labels,
            kind=self.kind,
            key=self.key,
            fallback_key=self.fallback_key,
            num_gloss=self.num_gloss,
            num_cat=self.num_cat,
            dtype=self.dtype,
            workers=self.load_workers,
            cache="memory" if self.cache == "device" else self.cache,
            cache_dir=self.cache_dir,
            only=only,
        )

"""``signlang split DATA_DIR LABELS.csv --out OUT``: train/val/test in the seed layout.

    signlang split data/raw data/raw/labels.csv --out data/processed --val 0.15 --test 0.15 --group-by signer

Stratified by gloss (each gloss split in the same proportions, at least one clip in train);
with ``--group-by COLUMN`` every value of that column (a signer, a session) lands in exactly one
split. Clips with identical content (a hash of their arrays: the same recording under two names)
always land in the same split, so a duplicate cannot leak test clips into training; they are listed,
and so are identical clips labelled with different glosses. Files are copied (``--link`` makes hard
links, or symlinks across file systems).

``--leave-out N`` (and ``--leave-out-val M``) set glosses aside for measuring "not a sign I know":
N glosses (then M more), drawn with the seed, leave every split, and all their clips go to
``keypoints_unknown_test/`` (``keypoints_unknown_val/``) with ``unknown_{test,val}_labels.csv``.
The known splits are the ones made without them, less their clips.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from signlang.core.errors import ConfigError, DataError, summarize
from signlang.data.labels import clip_name, label_problems, read_label_table
from signlang.data.stratify import SPLITS, assign


def content_hash(path: Path) -> str:
    """Hash of a clip's arrays (names, dtypes, shapes, bytes; ``meta`` excluded): equal for the same
    clip saved twice, whatever the zip headers."""
    h = hashlib.sha256()
    with np.load(path, allow_pickle=False) as z:
        for name in sorted(n for n in z.files if n != "meta"):
            a = z[name]
            h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def keep_together(split: pd.Series, content: pd.Series) -> pd.Series:
    """``split`` with identical clips (same ``content``) moved into one split: train when one of them
    is there (so no gloss loses its training clips), else the split of the first. Clips without a
    duplicate keep their split, so a dataset without duplicates splits exactly as before."""
    split = split.copy()
    duplicated = content.duplicated(keep=False).to_numpy()
    for _, rows in split[duplicated].groupby(content[duplicated].to_numpy()):
        if rows.nunique() > 1:
            split[rows.index] = "train" if (rows == "train").any() else rows.iloc[0]
    return split


def join_groups(groups: pd.Series, content: pd.Series) -> pd.Series:
    """``groups`` with every two groups that share a clip's content joined (under the smallest of their
    names), so whole groups per split also keeps identical clips together. Groups that share nothing
    keep their names, and so their split."""
    parent = {g: g for g in groups.unique()}

    def root(g):
        while parent[g] != g:
            parent[g] = g = parent[parent[g]]
        return g

    for members in groups.groupby(content.to_numpy()).unique():
        first = root(members[0])
        for other in members[1:]:
            a, b = sorted((first, root(other)), key=str)
            parent[b] = first = a
    return groups.map(root)


def place(source: Path, target: Path, link: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    if not link:
        shutil.copy2(source, target)
        return
    try:
        os.link(source, target)
    except OSError:  # another file system
        target.symlink_to(source.resolve())


def split_dataset(
    data_dir: Path,
    labels: Path,
    out: Path,
    val: float = 0.15,
    test: float = 0.15,
    group_by: str | None = None,
    seed: int = 0,
    link: bool = False,
    leave_out: int = 0,
    leave_out_val: int = 0,
) -> dict:
    """Write ``out/keypoints_{train,val,test}/`` and ``{split}_labels.csv`` (and the left-out glosses'
    ``keypoints_unknown_{test,val}/``); returns counts and leaks."""
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ConfigError(f"--val ({val}) and --test ({test}) must be fractions that leave some training data")
    if leave_out < 0 or leave_out_val < 0:
        raise ConfigError("--leave-out and --leave-out-val count glosses: 0 or more")
    table = read_label_table(labels)
    if group_by and group_by not in table.columns:
        raise ConfigError(f"--group-by {group_by}: {labels} has no such column (columns: {', '.join(table.columns)})")
    extra = table[[group_by]] if group_by else None
    table, problems = label_problems(table, labels, None, None)
    if problems:
        raise DataError(summarize(problems, 3))
    if extra is not None:
        table[group_by] = extra[group_by].to_numpy()
        blank = table.index[table[group_by].astype(str).str.strip().eq("")]
        if len(blank):
            raise DataError(
                f"--group-by {group_by}: {len(blank)} row(s) of {labels} have no {group_by} "
                f"({summarize(list(table.loc[blank, 'file']), sep=', ')}); fill the column in"
            )
    files = {clip_name(p.name): p for p in Path(data_dir).glob("*.npz")}
    missing = [f for f in table["file"] if f not in files]
    if missing:
        raise DataError(f"{labels} lists {len(missing)} clip(s) not in {data_dir}: {summarize(missing, sep=', ')}")
    fractions = {"train": 1 - val - test, "val": val, "test": test}
    table["hash"] = [content_hash(files[f]) for f in table["file"]]
    if group_by:
        table["split"] = assign(
            table.assign(**{group_by: join_groups(table[group_by], table["hash"])}), fractions, group_by, seed
        )
    else:
        table["split"] = keep_together(assign(table, fractions, None, seed), table["hash"])
    glosses = np.sort(table["gloss"].unique())
    if leave_out + leave_out_val >= len(glosses):
        raise ConfigError(
            f"--leave-out {leave_out} + --leave-out-val {leave_out_val} leave none of the {len(glosses)} glosses"
        )
    drawn = np.random.default_rng(seed).permutation(glosses)
    unknown = {"unknown_test": drawn[:leave_out], "unknown_val": drawn[leave_out : leave_out + leave_out_val]}
    for name, chosen in unknown.items():
        if len(chosen):
            table.loc[table["gloss"].isin(chosen), "split"] = name

    for name in [*SPLITS, *(k for k, v in unknown.items() if len(v))]:
        rows = table[table["split"] == name]
        for f in rows["file"]:
            place(files[f], out / f"keypoints_{name}" / f"{f}.npz", link)
        columns = ["file", "gloss", "cat", "occluded"] + ([group_by] if group_by else [])
        out.mkdir(parents=True, exist_ok=True)
        rows.assign(file=rows["file"] + ".npz")[columns].to_csv(out / f"{name}_labels.csv", index=False)

    leaks, duplicates, conflicts = [], [], []
    for _, rows in table.groupby("hash"):
        if len(rows) > 1:
            (leaks if rows["split"].nunique() > 1 else duplicates).append(list(zip(rows["file"], rows["split"])))
            if rows["gloss"].nunique() > 1:
                conflicts.append([(f, int(g)) for f, g in zip(rows["file"], rows["gloss"])])
    parts = [*SPLITS, *(k for k, v in unknown.items() if len(v))]
    return {
        "counts": table["split"].value_counts().reindex(parts, fill_value=0).to_dict(),
        "glosses": {s: int(table.loc[table["split"] == s, "gloss"].nunique()) for s in parts},
        "left_out": {k: sorted(int(g) for g in v) for k, v in unknown.items() if len(v)},
        "groups": {s: int(table.loc[table["split"] == s, group_by].nunique()) for s in parts} if group_by else None,
        "leaks": leaks,
        "duplicates": duplicates,
        "conflicts": conflicts,
    }

"""Which split (or cross-validation fold) each clip goes to: stratified by gloss, optionally by whole
groups (signers, sessions).

Shared by ``signlang split`` (files copied into the seed layout), ``data.val_split`` (val carved from a
training CSV when a run loads it) and ``data.val_folds`` (val one fold of k).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")


def assign(table: pd.DataFrame, fractions: dict[str, float], group_by: str | None, seed: int) -> pd.Series:
    """The split of every row: stratified by gloss, and by whole groups when ``group_by`` is given."""
    rng = np.random.default_rng(seed)
    split = pd.Series("", index=table.index, dtype=object)
    if group_by is None:
        for _, rows in table.groupby("gloss"):
            order = rng.permutation(rows.index.to_numpy())
            n = len(order)
            counts = {s: int(np.floor(fractions[s] * n + 0.5)) if n >= 3 else 0 for s in ("val", "test")}
            if counts["val"] + counts["test"] >= n:  # keep at least one clip for training
                counts = {
                    "val": min(counts["val"], max(0, n - 1)),
                    "test": max(0, min(counts["test"], n - 1 - counts["val"])),
                }
            split[order[: counts["val"]]] = "val"
            split[order[counts["val"] : counts["val"] + counts["test"]]] = "test"
            split[order[counts["val"] + counts["test"] :]] = "train"
        return split
    return place_groups(table, {s: fractions[s] for s in SPLITS}, group_by, rng)  # ties: SPLITS' order


def place_groups(table: pd.DataFrame, fractions: dict, group_by: str, rng: np.random.Generator) -> pd.Series:
    """Whole groups, largest first, each to the part (a split, a fold) whose glosses are furthest below
    their share ``fractions[part]``; ties go to the emptiest part overall."""
    parts = list(fractions)
    split = pd.Series(None, index=table.index, dtype=object)
    per_gloss = table.groupby("gloss").size()
    have = {s: defaultdict(float) for s in parts}
    total = {s: 0 for s in parts}
    groups = list(table.groupby(group_by))
    order = sorted(range(len(groups)), key=lambda i: (-len(groups[i][1]), rng.random()))
    for i in order:
        _, rows = groups[i]
        counts = rows.groupby("gloss").size()
        need = {s: sum((fractions[s] * per_gloss[g] - have[s][g]) * c for g, c in counts.items()) for s in parts}
        short = {s: fractions[s] * len(table) - total[s] for s in parts}
        target = max(parts, key=lambda s: (round(need[s], 6), short[s]))
        split[rows.index] = target
        total[target] += len(rows)
        for g, c in counts.items():
            have[target][g] += c
    return split


def folds(table: pd.DataFrame, k: int, group_by: str | None, seed: int) -> pd.Series:
    """The fold (0 .. k-1) of every row, for cross-validation: each gloss spread over the folds as
    evenly as its clip count allows (whole groups kept in one fold when ``group_by`` is given)."""
    rng = np.random.default_rng(seed)
    if group_by is not None:
        return place_groups(table, {f: 1.0 / k for f in range(k)}, group_by, rng).astype(int)
    fold = pd.Series(0, index=table.index, dtype=int)
    start = 0  # where the next gloss begins dealing, so the folds' sizes differ by one clip at most
    for _, rows in table.groupby("gloss"):
        order = rng.permutation(rows.index.to_numpy())
        fold[order] = (start + np.arange(len(order))) % k
        start = (start + len(order)) % k
    return fold

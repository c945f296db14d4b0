"""Which split each clip goes to: stratified by gloss, optionally by whole groups (signers, sessions).

Shared by ``signlang split`` (files copied into the seed layout) and ``data.val_split`` (val carved
from a training CSV when a run loads it).
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
    # Whole groups, largest first: each goes where its glosses are furthest below their targets.
    per_gloss = table.groupby("gloss").size()
    have = {s: defaultdict(float) for s in SPLITS}
    total = {s: 0 for s in SPLITS}
    groups = list(table.groupby(group_by))
    order = sorted(range(len(groups)), key=lambda i: (-len(groups[i][1]), rng.random()))
    for i in order:
        _, rows = groups[i]
        counts = rows.groupby("gloss").size()
        need = {s: sum((fractions[s] * per_gloss[g] - have[s][g]) * c for g, c in counts.items()) for s in SPLITS}
        short = {s: fractions[s] * len(table) - total[s] for s in SPLITS}  # ties: the emptiest split overall
        target = max(SPLITS, key=lambda s: (round(need[s], 6), short[s]))
        split[rows.index] = target
        total[target] += len(rows)
        for g, c in counts.items():
            have[target][g] += c
    return split

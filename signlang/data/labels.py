"""The two CSVs of a dataset: labels ``file,gloss,cat,occluded`` (one row per clip, 0-based ids) and
names ``id,label,category`` (``data.label_names``: what reports call each gloss and category)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from signlang.core.errors import DataError, summarize

log = logging.getLogger(__name__)

LABEL_COLUMNS = ("file", "gloss", "cat", "occluded")  # occluded may be absent (0)
LABEL_HEADER = ",".join(LABEL_COLUMNS)
REQUIRED_COLUMNS = LABEL_COLUMNS[:3]
NAME_COLUMNS = ("id", "label", "category")  # category may be absent


def has_categories(cat_names) -> bool:
    """Whether a dataset's clips come in more than one category (WLASL has none: ``data.num_cat=1``);
    with one, the category head learns nothing and reports leave it out."""
    return len(cat_names) > 1


def clip_name(file: str) -> str:
    """The clip id a CSV ``file`` entry refers to: basename without ``.npz``."""
    name = Path(str(file).strip()).name
    return name[:-4] if name.lower().endswith(".npz") else name


def read_label_table(path: str | Path) -> pd.DataFrame:
    """Read a labels CSV as text; a missing file, unreadable CSV or missing column is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"labels CSV not found: {path}. Point data.*_labels at a CSV with header {LABEL_HEADER}")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; it needs the header {LABEL_HEADER} and one row per clip") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not a readable CSV ({e}); expected header {LABEL_HEADER}") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"{path} lacks column(s) {', '.join(missing)} (found: {', '.join(df.columns)}); "
            f"the header must be {LABEL_HEADER}"
        )
    return df


def label_problems(
    df: pd.DataFrame, path: str | Path, num_gloss: int | None, num_cat: int | None
) -> tuple[pd.DataFrame, list[str]]:
    """Normalise a label table (clip ids, integer labels) and list everything wrong with it.

    ``num_gloss``/``num_cat`` of None skip the upper range check. Line numbers count the header as 1.
    """
    problems: list[str] = []

    def lines(mask: pd.Series) -> str:
        return ", ".join(str(i + 2) for i in np.flatnonzero(mask.to_numpy())[:5])

    if df.empty:
        return df, [f"{path} has a header but no rows; add one row per clip"]
    df = df.copy()
    if "occluded" not in df.columns:
        df["occluded"] = "0"
    no_file = df["file"].str.strip() == ""
    if no_file.any():
        problems.append(f"{path}: {int(no_file.sum())} row(s) without a file name (line {lines(no_file)})")
    df["file"] = df["file"].map(clip_name)

    for column, count, option in (("gloss", num_gloss, "num_gloss"), ("cat", num_cat, "num_cat")):
        values = pd.to_numeric(df[column], errors="coerce")
        bad = values.isna() | (values != values.round())
        if bad.any():
            problems.append(f"{path}: non-integer {column} label(s) on line {lines(bad)}; labels are 0-based integers")
        values = values.fillna(-1).astype(np.int64)
        out = ~bad & ((values < 0) | ((values >= count) if count is not None else False))
        if out.any():
            seen = sorted(set(values[out].tolist()))[:5]
            upper = f"[0, {count - 1}]" if count is not None else "[0, ...)"
            problems.append(
                f"{path}: {column} labels {seen} on line {lines(out)} are outside {upper}; labels are 0-based"
                + (f", so set data.{option} to the number of classes (now {count})" if count is not None else "")
            )
        df[column] = values
    occluded = pd.to_numeric(df["occluded"], errors="coerce")
    bad = ~occluded.isin([0, 1])
    if bad.any():
        problems.append(f"{path}: occluded must be 0 or 1 (line {lines(bad)})")
    df["occluded"] = occluded.fillna(0).astype(np.int64)

    dup = df["file"].duplicated(keep=False) & ~no_file
    if dup.any():
        names = sorted(set(df.loc[dup, "file"]))
        problems.append(
            f"{path}: {len(names)} clip(s) listed more than once: {summarize(names, sep=', ')}; keep one row per clip"
        )
    return df[list(LABEL_COLUMNS)].reset_index(drop=True), problems


def read_labels(path: str | Path, num_gloss: int, num_cat: int) -> pd.DataFrame:
    """Read and check a labels CSV; returns columns file (clip id), gloss, cat, occluded."""
    df, problems = label_problems(read_label_table(path), path, num_gloss, num_cat)
    if problems:
        raise DataError(summarize(problems, 3))
    present = int(df["gloss"].max()) + 1
    if present < num_gloss // 2:
        log.warning("%s: labels use %d glosses but data.num_gloss=%d; check data.num_gloss", path, present, num_gloss)
    return df


def read_name_table(path: str | Path) -> pd.DataFrame:
    """A names CSV ``id,label,category`` as text (a UTF-8 byte-order mark, as FSL-105's has, is fine)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"label names CSV not found: {path}. Give a CSV id,label,category (data.label_names, --label-names)"
        )
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not a readable CSV ({e}); expected columns id,label,category") from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ("id", "label") if c not in table.columns]
    if missing:
        raise DataError(f"{path} lacks column(s) {', '.join(missing)}; expected id,label,category")
    return table


def name_ids(path: str | Path) -> tuple[dict[str, int], dict[str, int]]:
    """Gloss id by label and category id by name, numbered as ``read_label_names`` numbers them."""
    table = read_name_table(path)
    ids = pd.to_numeric(table["id"], errors="coerce")
    if ids.isna().any():
        raise DataError(f"{path}: every id must be an integer")
    table = table.assign(id=ids.astype(int)).sort_values("id")
    gloss = {label.strip(): int(i) for label, i in zip(table["label"], table["id"])}
    categories = list(dict.fromkeys(table["category"].str.strip())) if "category" in table.columns else []
    return gloss, {name: i for i, name in enumerate(categories)}


def read_label_names(path: str | Path, num_gloss: int, num_cat: int) -> tuple[list[str], list[str]]:
    """Gloss names by id, and category names numbered in order of first appearance (by gloss id).

    ``fsl105_labels_reference.csv`` lists glosses 0-104 with categories in blocks (GREETING = 0, ...),
    which is how the labels CSVs number categories.
    """
    table = read_name_table(path)
    ids = pd.to_numeric(table["id"], errors="coerce")
    if ids.isna().any() or sorted(ids.astype(int)) != list(range(num_gloss)):
        raise DataError(
            f"{path}: ids must be 0..{num_gloss - 1} once each (data.num_gloss={num_gloss}); found {len(table)} rows"
        )
    table = table.assign(id=ids.astype(int)).sort_values("id")
    glosses = table["label"].str.strip().tolist()
    if "category" not in table.columns:
        return glosses, [str(i) for i in range(num_cat)]
    categories = list(dict.fromkeys(table["category"].str.strip()))
    if len(categories) != num_cat:
        raise DataError(f"{path} names {len(categories)} categories but data.num_cat={num_cat}")
    return glosses, categories

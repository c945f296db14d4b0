"""Human-readable gloss and category names from a CSV ``id,label,category`` (``data.label_names``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from signlang.errors import DataError


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

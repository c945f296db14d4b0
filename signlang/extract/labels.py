"""``--labels``: the gloss and category of each extracted clip, from a dataset's own labels CSV or
from a pattern on clip names, written as signlang's ``labels.csv``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from signlang.core.errors import ConfigError
from signlang.core.video import clip_id
from signlang.data.labels import LABEL_COLUMNS, name_ids


class LabelMap:
    """``--labels``: a labels CSV, or a regular expression with named groups ``gloss`` and ``cat``
    searched in each clip's name (folders joined by ``__``).

    A CSV is read in the dataset's own form: ``columns`` maps signlang's ``file``, ``gloss`` and
    ``cat`` to its column names (``--label-columns file=vid_path,gloss=id_label,cat=category``);
    ``file`` is a video's path relative to the extracted folder (or any folder above it), with or
    without its suffix, with either separator; gloss and category are ids, or names resolved through
    a names CSV ``id,label,category`` (``--label-names``, the form ``data.label_names`` reads).
    """

    def __init__(self, spec: str | None, columns: str | None = None, names: str | None = None) -> None:
        self.table: dict[str, tuple[str, str]] | None = None
        self.pattern: re.Pattern | None = None
        if not spec:
            return
        if Path(spec).is_file():
            self.table = self._read_table(Path(spec), self._columns(columns), names)
        else:
            try:
                self.pattern = re.compile(spec)
            except re.error as e:
                raise ConfigError(f"--labels {spec!r} is neither a CSV file nor a regular expression ({e})") from None
            if not {"gloss", "cat"} <= set(self.pattern.groupindex):
                raise ConfigError("--labels pattern needs named groups (?P<gloss>...) and (?P<cat>...)")

    @staticmethod
    def _columns(spec: str | None) -> dict[str, str]:
        mapping = {"file": "file", "gloss": "gloss", "cat": "cat"}
        for item in (spec or "").split(","):
            if not item.strip():
                continue
            ours, _, theirs = item.partition("=")
            if ours.strip() not in mapping or not theirs.strip():
                raise ConfigError(f"--label-columns {spec!r}: give file=COLUMN,gloss=COLUMN,cat=COLUMN")
            mapping[ours.strip()] = theirs.strip()
        return mapping

    @staticmethod
    def _read_table(path: Path, columns: dict[str, str], names: str | None) -> dict[str, tuple[str, str]]:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        table.columns = [str(c).strip() for c in table.columns]
        missing = [c for c in columns.values() if c not in table.columns]
        if missing:
            raise ConfigError(
                f"--labels {path}: no column(s) {', '.join(missing)} (it has {', '.join(table.columns)}); "
                "name them with --label-columns file=...,gloss=...,cat=..."
            )
        glosses, categories = name_ids(names) if names else ({}, {})

        def ids(values, known: dict[str, int], what: str) -> list[str]:
            out = []
            for value in values.str.strip():
                if value == "" or value.lstrip("-").isdigit():
                    out.append(value)
                elif value in known:
                    out.append(str(known[value]))
                else:
                    where = f"not in {names}" if names else "a name: give --label-names with id,label,category"
                    raise ConfigError(f"--labels {path}: {what} {value!r} is {where}")
            return out

        files = [clip_id(f) for f in table[columns["file"]]]
        return dict(
            zip(
                files,
                zip(ids(table[columns["gloss"]], glosses, "gloss"), ids(table[columns["cat"]], categories, "category")),
            )
        )

    def __call__(self, name: str) -> tuple[str, str]:
        if self.table is not None:
            if name in self.table:
                return self.table[name]
            for key, value in self.table.items():  # the CSV's paths start higher (or lower) than the extracted folder
                if key.endswith("__" + name) or name.endswith("__" + key):
                    return value
            return "", ""
        if self.pattern is not None:
            m = self.pattern.search(name)
            return (m["gloss"], m["cat"]) if m else ("", "")
        return "", ""


def write_labels(out: Path, records: list[dict[str, Any]], labels: LabelMap) -> Path:
    """``labels.csv`` (file,gloss,cat,occluded); an existing, different one is kept and the new
    skeleton goes to ``labels.new.csv``."""
    rows = [list(LABEL_COLUMNS)]
    for r in sorted((r for r in records if r["status"] != "failed"), key=lambda r: r["file"]):
        gloss, cat = labels(r["file"][:-4])
        rows.append([r["file"], gloss, cat, r.get("occluded", 0)])
    text = "".join(",".join(map(str, row)) + "\n" for row in rows)
    path = out / "labels.csv"
    if path.exists() and path.read_text() != text:
        path = out / "labels.new.csv"
    path.write_text(text)
    return path

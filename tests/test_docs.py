"""The README stays short and the documentation site builds; every training command either of them
shows composes with today's config (a renamed key fails here, not in a reader's terminal)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, compose_config
from hydra.core.override_parser.overrides_parser import OverridesParser

DOCS = REPO / "docs"
PAGES = sorted((DOCS / "pages").rglob("*.md"))


def commands(path: Path) -> list[str]:
    """Every ``python run.py``, ``signlang train`` or ``signlang baseline`` line in the file's code blocks."""
    found = []
    for block in re.findall(r"```(?:bash|sh|console)?\n(.*?)```", path.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            match = re.search(r"(?:python run\.py|signlang (?:train|baseline))\b(.*)", line)
            if match:
                found.append(match.group(1))
    return found


def overrides(command: str) -> list[str] | None:
    """The command's overrides, one job of a sweep (each sweep's first value); None for a resume."""
    try:
        words = shlex.split(command)
    except ValueError:  # a placeholder such as [<a row's override>]
        words = command.split()
    words = [w for w in words if "=" in w and not w.startswith(("-", "$", "[", "<")) and "<" not in w]
    if any(w.startswith("trainer.resume=") for w in words):
        return None  # needs a run folder: resume has its own tests
    parser = OverridesParser.create()
    out = []
    for word in words:
        override = parser.parse_override(word)
        if override.is_sweep_override():
            key = override.get_key_element()
            word = f"{key}={next(iter(override.sweep_string_iterator()))}" if override.is_discrete_sweep() else None
        if word is not None and "hydra." not in word.split("=")[0] and "hydra/" not in word.split("=")[0]:
            out.append(word)
    return out


def test_readme_is_short_and_points_to_the_docs():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    for page in ("docs/pages/index.md", "docs/pages/configuration.md", "docs/pages/layout.md"):
        assert page in text or page.replace("docs/pages/", "") in text, page


@pytest.mark.parametrize("path", [REPO / "README.md", *PAGES], ids=lambda p: str(p.relative_to(REPO)))
def test_every_training_command_shown_composes(path):
    shown = [o for o in map(overrides, commands(path)) if o is not None]
    for words in shown:
        compose_config(*words)  # raises for a key or option that does not exist
    if path.name in ("README.md", "training.md", "configuration.md"):
        assert shown, f"{path.name} shows no training command"


def test_the_docs_site_builds_without_warnings(tmp_path):
    if shutil.which("mkdocs") is None and subprocess.run([sys.executable, "-m", "mkdocs", "--version"]).returncode:
        pytest.skip("mkdocs is not installed (pip install -e '.[dev]')")
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(DOCS / "mkdocs.yml"), "-d", str(site)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    built = {p.relative_to(site).with_suffix("").as_posix() for p in site.rglob("*.html")}
    for page in PAGES:
        name = page.relative_to(DOCS / "pages").with_suffix("").as_posix()
        assert name in built or f"{name}/index" in built, f"{page.name} is not in the site"


SEED_FLAGS = (
    "--model --keypoints-train --keypoints-val --features-train --features-val --labels-train-csv --labels-val-csv "
    "--kp-key --feature-key --num-gloss --num-cat --epochs --batch-size --output-dir --lr --weight-decay --grad-clip "
    "--scheduler --scheduler-patience --early-stop --resume --log-csv --num-workers --pin-memory --prefetch-factor "
    "--seed --deterministic --amp --smoke-test --no-pretrained-backbone"
).split()


def row_cells(line: str) -> list[str]:
    """A Markdown table row's cells: a pipe inside inline code, or escaped, does not split."""
    cells, cell, code, previous = [], "", False, ""
    for char in line.strip().removeprefix("|").removesuffix("|"):
        code = not code if char == "`" else code
        if char == "|" and not code and previous != "\\":
            cells.append(cell)
            cell = ""
        else:
            cell += char
        previous = char
    return [*cells, cell]


def seed_table() -> dict[str, str]:
    text = (DOCS / "pages" / "configuration.md").read_text()
    section = text.split("### Seed training guide flags", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in row_cells(line)]
        if len(cells) == 2 and cells[0].startswith("`--"):
            rows[cells[0]] = cells[1]
    return rows


def test_every_seed_flag_has_a_working_override():
    table = seed_table()
    listed = " ".join(table)
    for flag in SEED_FLAGS:
        assert re.search(rf"`{re.escape(flag)}[ `]", listed), flag
    for cell in table.values():
        for alternative in cell.split(" or "):
            overrides = [o for o in re.findall(r"`([^`]+)`", alternative) if "=" in o]
            for override in overrides:
                compose_config(*override.split())  # raises if a key or option does not exist


@pytest.mark.parametrize("path", [REPO / "README.md", *PAGES], ids=lambda p: p.name)
def test_every_table_row_has_its_header_s_cells(path):
    """A row pasted into the middle of another (it happened) renders as a shifted, wrong result."""
    header = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.startswith("|"):
            header = None
        elif header is None:
            header = len(row_cells(line))
        else:
            found = len(row_cells(line))
            assert found == header, f"{path.name}:{number} has {found} cells, its header {header}"

"""The package layout the README's "Layout" sketch draws is the one the imports follow: every package
on its level, imports pointing down only (never sideways, never in a circle), and no private API of
another project."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "signlang"


def levels() -> list[set[str]]:
    """The README's sketch, top level first: the packages named on each line of its code block."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```text\n(.*?)```", section, flags=re.S)
    found = [set(re.findall(r"\b([a-z_]+)/", line)) for line in block.splitlines()]
    return [names - {"signlang"} for names in found if names - {"signlang"}]


def runtime_imports(path: Path) -> list[tuple[str, int]]:
    """The signlang modules ``path`` imports when it runs (anywhere in the file; not ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text())
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skipped |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found += [(n, node.lineno) for n in names]
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
    return found


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(REPO).with_suffix("").parts): p for p in PACKAGE.rglob("*.py")}


def test_the_readme_sketch_names_every_package_once():
    sketch = levels()
    named = [p for level in sketch for p in level]
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert sorted(named) == sorted(packages), "README Layout and signlang/ disagree"
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert loose == [], f"modules outside a package: {loose}"


def test_imports_point_down_the_layers_only():
    rank = {package: i for i, level in enumerate(reversed(levels())) for package in level}
    known = modules()
    wrong = []
    for name, path in known.items():
        parts = name.split(".")
        if len(parts) < 3:  # signlang/__init__.py, __main__.py: the entry points themselves
            continue
        here = parts[1]
        for target, line in runtime_imports(path):
            if not target.startswith("signlang.") or target not in known:
                continue
            there = target.split(".")[1]
            if there in rank and there != here and rank[there] >= rank[here]:
                wrong.append(f"{path.relative_to(REPO)}:{line} imports {target} ({here} -> {there})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_between_modules():
    known = modules()
    graph = defaultdict(set)
    for name, path in known.items():
        for target, _ in runtime_imports(path):
            if target in known and target != name and not known[target].name == "__init__.py":
                graph[name].add(target)
    visiting, done, cycles = set(), set(), []

    def visit(node: str, trail: list[str]) -> None:
        visiting.add(node)
        for nxt in sorted(graph[node]):
            if nxt in visiting:
                cycles.append(" -> ".join(trail[trail.index(nxt) :] + [nxt]))
            elif nxt not in done:
                visit(nxt, trail + [nxt])
        visiting.discard(node)
        done.add(node)

    for node in sorted(known):
        if node not in done:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


def test_no_private_api_of_another_project():
    private = []
    for path in [*PACKAGE.rglob("*.py"), REPO / "run.py"]:
        for target, line in runtime_imports(path):
            top, *rest = target.split(".")
            if top != "signlang" and any(part.startswith("_") and part != "__future__" for part in [top, *rest]):
                private.append(f"{path.relative_to(REPO)}:{line} imports {target}")
    assert not private, "\n".join(private)

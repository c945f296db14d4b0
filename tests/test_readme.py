"""The README's two set-up commands are exactly what CI runs."""

from __future__ import annotations

import re

from conftest import REPO


def setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```(?:bash|sh)?\n(.*?)```", section, flags=re.S)
    return [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_has_exactly_two_setup_commands_and_ci_runs_them():
    commands = setup_commands()
    assert len(commands) == 2 and commands[0].startswith("pip install")
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    for command in commands:
        assert command in ci, command

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


SEED_FLAGS = (
    "--model --keypoints-train --keypoints-val --features-train --features-val --labels-train-csv --labels-val-csv "
    "--kp-key --feature-key --num-gloss --num-cat --epochs --batch-size --output-dir --lr --weight-decay --grad-clip "
    "--scheduler --scheduler-patience --early-stop --resume --log-csv --num-workers --pin-memory --prefetch-factor "
    "--seed --deterministic --amp --smoke-test --no-pretrained-backbone"
).split()


def seed_table() -> dict[str, str]:
    text = (REPO / "README.md").read_text()
    section = text.split("### Seed training guide flags", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`--"):
            rows[cells[0]] = cells[1]
    return rows


def test_every_seed_flag_has_a_working_override():
    from conftest import compose_config

    table = seed_table()
    listed = " ".join(table)
    for flag in SEED_FLAGS:
        assert re.search(rf"`{re.escape(flag)}[ `]", listed), flag
    for flag, cell in table.items():
        for alternative in cell.split(" or "):
            overrides = [o for o in re.findall(r"`([^`]+)`", alternative) if "=" in o]
            for override in overrides:
                compose_config(*override.split())  # raises if a key or option does not exist

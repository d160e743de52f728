"""The README's generated sections match the code, and its two commands are the Makefile's."""

from __future__ import annotations

from pathlib import Path

import pytest

from bodycam.tools.dev.readme import SECTIONS, section_text

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_generated_section_is_current(name: str) -> None:
    assert section_text(README, name) == SECTIONS[name]().strip("\n"), (
        f"README section {name} is stale: run `.venv/bin/python -m bodycam.tools.dev.readme`")


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "\ndemo:" in makefile and "\ntest:" in makefile


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")

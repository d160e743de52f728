"""Keeps the README's generated sections equal to the code they describe.

`python -m bodycam.tools.dev.readme` rewrites the sections between their markers; the test
suite fails when a section is stale, so the README cannot drift from the state table,
the feedback patterns or the configuration schema.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from bodycam.firmware.config.reference import markdown_table
from bodycam.firmware.device.diagram_cmd import mermaid_state_diagram
from bodycam.firmware.device.feedback import pattern_table_markdown

REPO = Path(__file__).resolve().parents[2]  # a developer tool: runs from the source tree
TECHNICIAN_GUIDE = REPO / "docs" / "technician.md"
THREAT_MODEL = REPO / "docs" / "threat-model.md"


def technician_guide() -> str:
    """docs/technician.md (also installed on the camera) one heading level down, its LED
    tables replaced by a pointer to the README's own copy of them."""
    text = TECHNICIAN_GUIDE.read_text(encoding="utf-8")
    start, end = markers("feedback-table")
    if start in text and end in text:
        text = (text[:text.index(start)]
                + "(The tables are in \"What the wearer sees, hears and feels\" above.)"
                + text[text.index(end) + len(end):])
    body = text.split("\n", 1)[1]  # drop its own title; the README has one
    return "\n".join("#" + line if line.startswith("#") else line
                     for line in body.strip("\n").splitlines())


def security_summary() -> str:
    """The threat model's summary, word for word (the README's claims must be its own)."""
    return section_text(THREAT_MODEL.read_text(encoding="utf-8"), "security-summary")


SECTIONS: dict[str, Callable[[], str]] = {
    "security-summary": security_summary,
    "config-reference": markdown_table,
    "state-diagram": lambda: "```mermaid\n" + mermaid_state_diagram().rstrip("\n") + "\n```",
    "feedback-patterns": pattern_table_markdown,
    "technician-guide": technician_guide,
}


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def section_text(readme: str, name: str) -> str:
    """What the README holds between the markers of `name` (without the newlines)."""
    start, end = markers(name)
    if start not in readme or end not in readme:
        raise ValueError(f"no {start} ... {end} markers; add them where the generated "
                         f"{name} section belongs")
    return readme[readme.index(start) + len(start):readme.index(end)].strip("\n")


def replace_section(text: str, name: str, content: str) -> str:
    """`text` with `content` between the markers of `name` (which must be there)."""
    section_text(text, name)  # raises when the markers are missing
    start, end = markers(name)
    head, tail = text[:text.index(start) + len(start)], text[text.index(end):]
    return head + "\n" + content.rstrip("\n") + "\n" + tail


def render(readme: str) -> str:
    for name, make in SECTIONS.items():
        readme = replace_section(readme, name, make())
    return readme


def render_technician_guide(text: str) -> str:
    """The guide with its LED tables regenerated (it is installed on the camera whole)."""
    return replace_section(text, "feedback-table", pattern_table_markdown())


def main() -> int:
    guide = TECHNICIAN_GUIDE.read_text(encoding="utf-8")
    TECHNICIAN_GUIDE.write_text(render_technician_guide(guide), encoding="utf-8")
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "README.md"
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated the generated sections of {TECHNICIAN_GUIDE} and {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The configuration reference table, generated from the schema and the shipped defaults.

`python -m bodycam.firmware.config.reference` prints it; the README embeds the output
between the config-reference markers and a test keeps the two identical.
"""

from __future__ import annotations

import tomllib

from bodycam.firmware.config.loader import DEFAULTS_NAME, shipped_file
from bodycam.firmware.config.schema import SETTINGS

_HEADER = ("| Key | Type | Default | Allowed | Meaning |\n"
           "|-----|------|---------|---------|---------|")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table() -> str:
    defaults = tomllib.loads(shipped_file(DEFAULTS_NAME).read_text(encoding="utf-8"))
    rows = [_HEADER]
    for setting in SETTINGS.values():
        default = defaults[setting.section][setting.name]
        cells = (f"`{setting.key}`", setting.rule.type_name,
                 f"`{setting.rule.render(default)}`", setting.rule.allowed(), setting.doc)
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")

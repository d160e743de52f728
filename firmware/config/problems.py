"""Configuration problems and the error that carries all of them at once.

A technician fixing a provisioning file should see every mistake in one run, each naming
the file, the key, what was written and what would have been accepted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from bodycam.firmware.evidence.age.keys import IDENTITY_HRP

COMMAND_LINE = "command line"
_MAX_SHOWN = 100
_SECRET_SHOWN_AS = "<AGE-SECRET-KEY-1... secret key, not repeated>"
_SECRET_WORD = re.compile(r"[\w-]*" + re.escape(IDENTITY_HRP) + r"[\w-]*", re.IGNORECASE)


def _redacted(given: object) -> object:
    """Never copy a (misplaced) age secret key into logs or terminals, wherever it sits:
    a value, an item of a list, or the name of a key or table."""
    if isinstance(given, str) and IDENTITY_HRP in given.upper():
        return _SECRET_SHOWN_AS
    if isinstance(given, list | tuple):
        return type(given)(_redacted(item) for item in given)
    if isinstance(given, dict):
        return {_redacted(k): _redacted(v) for k, v in given.items()}
    return given


def redacted_text(text: str) -> str:
    """`text` with every word that holds a secret key replaced: a secret key pasted as a
    TOML key or [section] name reaches key names and parser messages, not only values."""
    return _SECRET_WORD.sub(_SECRET_SHOWN_AS, text)


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake.

    `key` is the dotted setting name ("video.fps"); for problems with the file itself it
    is "line N" (syntax errors) or "" (file missing or unreadable).
    """

    source: str  # file path or "command line"
    key: str
    given: object
    allowed: str
    hint: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "given", _redacted(self.given))
        for name in ("key", "allowed", "hint"):
            object.__setattr__(self, name, redacted_text(getattr(self, name)))

    def __str__(self) -> str:
        # A path as the person wrote it, not as Python shows the object.
        shown = repr(str(self.given) if isinstance(self.given, PurePath) else self.given)
        if len(shown) > _MAX_SHOWN:
            shown = shown[: _MAX_SHOWN - 3] + "..."
        where = f"{self.source}: {self.key}" if self.key else self.source
        text = f"{where}: got {shown}; allowed: {self.allowed}"
        return f"{text}; {self.hint}" if self.hint else text


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every mistake found."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

"""Value rules: what one configuration key accepts, how it is checked and described.

Each rule both validates a raw TOML value (returning the typed value the model wants) and
describes itself in words, so the error messages and the generated reference table can
never disagree with what the loader actually accepts.
"""

from __future__ import annotations

import difflib
import json
import math
import posixpath
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from bodycam.firmware.evidence.age.keys import (
    Recipient,
    format_recipient,
    mixed_recipients_problem,
    parse_recipient,
)


class InvalidValueError(Exception):
    """A value broke its rule. Each issue is (the offending value, a hint on the fix)."""

    def __init__(self, issues: Sequence[tuple[object, str]]) -> None:
        super().__init__(issues)
        self.issues = list(issues)

    @classmethod
    def of(cls, given: object, hint: str = "") -> InvalidValueError:
        return cls([(given, hint)])


def toml_literal(value: object) -> str:
    """How a value is written in a TOML file (for the reference table and messages)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    return str(value)


def _type_hint(value: object, wanted: str) -> str:
    """Explain the commonest type slips: quoted numbers, booleans given as numbers."""
    if isinstance(value, bool):
        return f"true/false is a boolean in TOML, not {wanted}"
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return f"write {wanted} without quotes"
        return "remove the quotes: a quoted value is a string in TOML"
    return f"write {wanted}"


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValueError.of(value, _type_hint(value, "a number"))
    return float(value)


def _integer(value: object) -> int:
    if isinstance(value, float):
        raise InvalidValueError.of(value, "write a whole number (no decimal point)")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValueError.of(value, _type_hint(value, "a whole number"))
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValueError.of(value, "put the text in double quotes")
    return value


class Rule(ABC):
    """What one key accepts."""

    type_name: str = ""

    @abstractmethod
    def allowed(self) -> str:
        """Human description of the accepted values (used in errors and the reference)."""

    @abstractmethod
    def convert(self, value: object) -> object:
        """The typed value for the model; raises InvalidValueError."""

    def render(self, value: object) -> str:
        """A value as the reference table shows it."""
        return toml_literal(value)


class IntRange(Rule):
    type_name = "integer"

    def __init__(self, low: int, high: int, unit: str = "", *, hexadecimal: bool = False,
                 even: bool = False) -> None:
        self.low, self.high, self.unit = low, high, unit
        self.hexadecimal, self.even = hexadecimal, even

    def _fmt(self, number: int) -> str:
        return f"0x{number:02x}" if self.hexadecimal else str(number)

    def allowed(self) -> str:
        text = f"{'even ' if self.even else ''}integer {self._fmt(self.low)}-{self._fmt(self.high)}"
        return f"{text} {self.unit}".rstrip()

    def convert(self, value: object) -> object:
        number = _integer(value)
        if not self.low <= number <= self.high:
            raise InvalidValueError.of(value)
        if self.even and number % 2:
            raise InvalidValueError.of(value, "the H.264 encoder needs even frame sizes")
        return number

    def render(self, value: object) -> str:
        if self.hexadecimal and isinstance(value, int):
            return self._fmt(value)
        return super().render(value)


class Pin(IntRange):
    """A BCM GPIO number on the 40-pin header; also marks the key for the pin-clash check."""

    type_name = "GPIO"

    def __init__(self) -> None:
        super().__init__(0, 27, "(BCM GPIO number)")


class IntChoice(Rule):
    type_name = "integer"

    def __init__(self, choices: Sequence[int], unit: str = "") -> None:
        self.choices, self.unit = tuple(choices), unit

    def allowed(self) -> str:
        return f"one of {', '.join(map(str, self.choices))} {self.unit}".rstrip()

    def convert(self, value: object) -> object:
        number = _integer(value)
        if number not in self.choices:
            nearest = min(self.choices, key=lambda c: abs(c - number))
            raise InvalidValueError.of(value, f"nearest allowed: {nearest}")
        return number


class FloatRange(Rule):
    """A number (TOML integer or float); `off` additionally accepts 0 meaning 'disabled'."""

    type_name = "number"

    def __init__(self, low: float, high: float, unit: str, *, off: bool = False) -> None:
        self.low, self.high, self.unit, self.off = low, high, unit, off

    def allowed(self) -> str:
        span = f"{self.low:g}-{self.high:g} {self.unit}"
        return f"0 (off) or {span}" if self.off else span

    def convert(self, value: object) -> object:
        number = _number(value)
        if self.off and number == 0:
            return 0.0
        if not (math.isfinite(number) and self.low <= number <= self.high):
            raise InvalidValueError.of(value)
        return number


class Flag(Rule):
    type_name = "boolean"

    def allowed(self) -> str:
        return "true or false"

    def convert(self, value: object) -> object:
        if not isinstance(value, bool):
            hint = "write true or false without quotes" if isinstance(value, str) else (
                "write true or false (1/0 are numbers in TOML)")
            raise InvalidValueError.of(value, hint)
        return value


class Choice(Rule):
    type_name = "string"

    def __init__(self, choices: Sequence[str]) -> None:
        self.choices = tuple(choices)

    def allowed(self) -> str:
        return "one of " + ", ".join(f'"{c}"' for c in self.choices)

    def convert(self, value: object) -> object:
        text = _text(value)
        if text not in self.choices:
            close = difflib.get_close_matches(text.lower(), self.choices, n=1)
            raise InvalidValueError.of(value, f"did you mean {close[0]!r}?" if close else "")
        return text


class Text(Rule):
    type_name = "string"

    def __init__(self, max_length: int, pattern: str | None = None,
                 description: str = "") -> None:
        self.max_length = max_length
        self.pattern = re.compile(pattern) if pattern else None
        self.description = description

    def allowed(self) -> str:
        return self.description or f"printable text, at most {self.max_length} characters"

    def convert(self, value: object) -> object:
        text = _text(value)
        if self.pattern is not None:
            if not self.pattern.fullmatch(text):
                raise InvalidValueError.of(value)
        elif len(text) > self.max_length or not text.isprintable():
            raise InvalidValueError.of(value)
        return text


class AbsolutePath(Rule):
    """Absolute everywhere: a relative path would depend on the service's working directory.

    Written in normal form only (no `..` or `.` parts, no doubled or trailing `/`): every
    rule about where a path may lead (below /var/lib/bodycam, data and state apart) is a
    comparison of names, which `/var/lib/bodycam/../../run` would otherwise pass.
    """

    type_name = "path"

    def __init__(self, *, empty_means: str | None = None) -> None:
        """`empty_means`: what "" stands for, when an empty value is allowed (it becomes
        None in the model)."""
        self.empty_means = empty_means

    def allowed(self) -> str:
        path = "absolute path (starts with /) without '..' or '.' parts"
        return path if self.empty_means is None else f'{path}, or "" ({self.empty_means})'

    def convert(self, value: object) -> object:
        text = _text(value)
        if not text and self.empty_means is not None:
            return None
        if not text or "\0" in text or not PurePosixPath(text).is_absolute():
            raise InvalidValueError.of(value, "write the full path: relative ones are refused")
        normal = posixpath.normpath(text)
        if normal.startswith("//"):  # POSIX keeps a leading "//" as implementation-defined
            normal = "/" + normal.lstrip("/")
        if text != normal:
            parts = text.split("/")
            what = ("'..' parts" if ".." in parts else "'.' parts" if "." in parts
                    else "doubled or trailing '/'")
            raise InvalidValueError.of(value, f"{what} are refused: this path means "
                                              f"{normal!r}; write that instead")
        return Path(text)


# Every recipient can read every recording, and each costs an X25519 exchange or an HPKE
# encapsulation and a header stanza (98 or 1557 bytes) at every segment, on the
# recorder's thread. An agency needs its own key
# and perhaps an escrow or court key; 8 leaves room for that and a rotation overlap,
# while a long list is itself the sign of a mistake or of someone adding readers.
MAX_RECIPIENTS = 8


def too_many_recipients(count: int) -> str:
    """The hint for a list longer than MAX_RECIPIENTS (the TOML list and the file alike)."""
    return (f"{count} recipients; at most {MAX_RECIPIENTS} are allowed (each one can read "
            "every recording): list only the evidence authority's keys")


class Recipients(Rule):
    """age recipients, post-quantum or X25519 but never both; each is checked by the
    evidence module's own parser."""

    type_name = "list of strings"

    def allowed(self) -> str:
        return (f"list of at most {MAX_RECIPIENTS} age public keys, either all age1pq1... "
                "(post-quantum, from bodycam-evidence keygen --pq) or all age1... (X25519, "
                "from bodycam-evidence keygen or age-keygen), no duplicates; [] = recording "
                "is refused")

    def convert(self, value: object) -> object:
        if not isinstance(value, list):
            raise InvalidValueError.of(value, 'write a list, e.g. ["age1..."]')
        if len(value) > MAX_RECIPIENTS:
            raise InvalidValueError.of(f"a list of {len(value)}",
                                       too_many_recipients(len(value)))
        issues: list[tuple[object, str]] = []
        seen: dict[bytes, int] = {}
        canonical: list[tuple[str, str]] = []
        for position, item in enumerate(value, start=1):
            key = self._parse(item, position, issues)
            if key is None:
                continue
            recipient = format_recipient(key)
            raw = key.public_bytes_raw()
            if raw in seen:
                issues.append((item, f"entry {position} repeats entry {seen[raw]}; list each "
                                     "recipient once"))
                continue
            seen[raw] = position
            canonical.append((f"entry {position}", recipient))
        mixed = mixed_recipients_problem(canonical)
        if mixed is not None:
            issues.append((f"a list of {len(value)}", mixed))
        if issues:
            raise InvalidValueError(issues)
        return tuple(recipient for _, recipient in canonical)

    @staticmethod
    def _parse(item: object, position: int,
               issues: list[tuple[object, str]]) -> Recipient | None:
        if not isinstance(item, str):
            issues.append((item, f"entry {position} must be a string in double quotes"))
            return None
        try:
            return parse_recipient(item)
        except ValueError as exc:
            issues.append((item, f"entry {position}: {exc}"))
            return None

"""An age recipients file (`bodycam-recipients.txt`) merged into a bodycam.toml.

The custodian hands out keys as age recipients files (one ``age1pq1...`` or ``age1...``
per line, never both kinds, ``#`` comments, blank lines), so a technician may drop that
file beside bodycam.toml instead of copying keys into it. The camera keeps a single
configuration file: the recipients are written into its ``[evidence] recipients`` and
the result is validated like any other provisioning file.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence
from pathlib import PurePath

from bodycam.firmware.config.loader import ConfigError, ConfigProblem, ConfigText, load_config
from bodycam.firmware.config.rules import MAX_RECIPIENTS, too_many_recipients
from bodycam.firmware.evidence.age.keys import (
    IDENTITY_HRP,
    format_recipient,
    mixed_recipients_problem,
    parse_recipient,
)

__all__ = ["RECIPIENTS_FILE_NAME", "read_recipients", "with_recipients"]

RECIPIENTS_FILE_NAME = "bodycam-recipients.txt"
_ALLOWED = ("one public key per line, all age1pq1... (post-quantum) or all age1... "
            "(X25519); # comments and blank lines")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def read_recipients(source: str, data: bytes) -> tuple[str, ...]:
    """The canonical recipients listed in `data` (read from `source`), in file order.

    Every bad line is reported with its number; a secret key is refused without being
    repeated (parse_recipient and ConfigProblem both redact it). Raises ConfigError.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        number = data[: exc.start].count(b"\n") + 1
        raise ConfigError([ConfigProblem(source, f"line {number}", data[exc.start: exc.end],
                                         "UTF-8 text", "save the file as UTF-8")]) from None
    problems: list[ConfigProblem] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if IDENTITY_HRP in line.upper():  # anywhere on the line: quote none of it
                raise ValueError("this line holds a secret identity key; only public "
                                 "age1pq1... or age1... keys belong here, and that key is "
                                 "exposed")
            recipient = format_recipient(parse_recipient(line))
        except ValueError as exc:
            problems.append(ConfigProblem(source, f"line {number}", line, _ALLOWED,
                                          f"{exc}; fix or remove this line"))
            continue
        if recipient in seen:
            problems.append(ConfigProblem(source, f"line {number}", line, _ALLOWED,
                                          f"repeats line {seen[recipient]}; list each "
                                          "recipient once"))
            continue
        seen[recipient] = number
    mixed = mixed_recipients_problem((f"line {n}", r) for r, n in seen.items())
    if mixed is not None:
        problems.append(ConfigProblem(source, "", f"{len(seen)} recipients", _ALLOWED, mixed))
    if not seen and not problems:
        problems.append(ConfigProblem(source, "", "no recipient", _ALLOWED,
                                      "add the evidence authority's age1pq1... (or age1...) "
                                      "key(s)"))
    if len(seen) > MAX_RECIPIENTS:
        problems.append(ConfigProblem(source, "", f"{len(seen)} recipients", _ALLOWED,
                                      too_many_recipients(len(seen))))
    if problems:
        raise ConfigError(problems)
    return tuple(seen)


def with_recipients(config: ConfigText, recipients: Sequence[str], *, keep: bool) -> bytes:
    """The text of `config` with `recipients` written into [evidence] recipients.

    keep=True merges them after the file's own recipients (a key listed in both places
    is kept once); keep=False replaces them. The file must pass the loader first, so
    only schema keys with plain values remain and the re-written text means the same
    (its comments are not carried over). Raises ConfigError naming the original file.
    """
    current = load_config(config).evidence.recipients
    data = tomllib.loads(config.data.decode("utf-8"))
    merged = [*current, *recipients] if keep else list(recipients)
    evidence = data.setdefault("evidence", {})
    assert isinstance(evidence, dict)  # the loader accepted it: [evidence] is a table
    evidence["recipients"] = list(dict.fromkeys(merged))
    return _render(data, PurePath(config.source).name).encode("utf-8")


def _render(data: dict[str, object], origin: str) -> str:
    """TOML for the loader-checked document: [section] tables of strings, numbers,
    booleans and string lists, whose JSON spelling is also valid TOML."""
    lines = [f"# Installed by bodycam-firstboot from {origin} and {RECIPIENTS_FILE_NAME}."]
    for section, table in data.items():
        assert isinstance(table, dict)
        lines += ["", f"[{_key(section)}]"]
        lines += [f"{_key(name)} = {json.dumps(value, ensure_ascii=False)}"
                  for name, value in table.items()]
    return "\n".join(lines) + "\n"


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)

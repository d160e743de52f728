"""Build a validated `Config` from layered TOML: shipped defaults < files < flags.

Every layer is checked key by key against the schema (so an error names the file that
holds the bad value), then the merged result is checked as a whole (pin clashes,
threshold order). All problems are collected and raised together in one ConfigError.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
import typing
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path

from bodycam.firmware.config.checks import CheckSpec, Entry, cross_check
from bodycam.firmware.config.model import Config
from bodycam.firmware.config.problems import COMMAND_LINE, ConfigError, ConfigProblem
from bodycam.firmware.config.rules import InvalidValueError
from bodycam.firmware.config.safe_read import NotRegularFileError, TooLargeError, read_regular
from bodycam.firmware.config.schema import SECTIONS, SETTINGS, section_keys

__all__ = [
    "MAX_CONFIG_BYTES",
    "ConfigError",
    "ConfigProblem",
    "ConfigText",
    "Layer",
    "effective_settings",
    "load_config",
    "parse_layer",
    "resolve",
    "shipped_file",
]

DEFAULTS_NAME = "defaults.toml"
MAX_CONFIG_BYTES = 256 * 1024  # a real file is a few KiB; refuse to parse a stray image
_REFERENCE_HINT = "see the configuration reference: python -m bodycam.firmware.config.reference"
_OVERRIDE_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)|\(at end of document\)")


@dataclass(frozen=True)
class Layer:
    """One source of settings: a parsed TOML file or one command-line override."""

    source: str
    data: dict[str, object]


# The device's own configuration file: what bodycam.service runs with and what the
# provisioning import installs (layered above the shipped defaults).
DEVICE_CONFIG_FILE = Path("/etc/bodycam/bodycam.toml")


def shipped_file(name: str) -> Path:
    """Path of a configuration file shipped in the `bodycam.config` package."""
    path = Path(str(resources.files("bodycam.config").joinpath(name)))
    if not path.is_file():
        available = sorted(p.name for p in path.parent.glob("*.toml"))
        raise FileNotFoundError(f"{name!r} is not a shipped configuration file; "
                                f"shipped: {', '.join(available)}")
    return path


@dataclass(frozen=True)
class ConfigText:
    """A configuration file already read: its bytes and the name messages give it.

    Validating these exact bytes, and installing the same ones, leaves no gap in which a
    file changed on disk is checked in one version and used in another.
    """

    source: str
    data: bytes


def load_config(*files: Path | ConfigText, overrides: Sequence[str] = (),
                extra_checks: Sequence[CheckSpec] = ()) -> Config:
    """Defaults, then each file in order, then "section.key=value" overrides.

    `extra_checks` are cross-checks of the caller's own (the device's rules).
    Raises ConfigError listing every problem found in all layers.
    """
    problems: list[ConfigProblem] = []
    layers = [_read_file(p, problems) for p in (shipped_file(DEFAULTS_NAME), *files)]
    layers += [_parse_override(text, problems) for text in overrides]
    return resolve([layer for layer in layers if layer is not None], problems, extra_checks)


def resolve(layers: Sequence[Layer], problems: Sequence[ConfigProblem] = (),
            extra_checks: Sequence[CheckSpec] = ()) -> Config:
    """Validate and merge parsed layers (the first must be complete: the defaults)."""
    found = list(problems)
    values: dict[str, Entry] = {}
    bad: set[str] = set()
    for index, layer in enumerate(layers):
        for key, value in _flatten(layer, found):
            try:
                converted = SETTINGS[key].rule.convert(value)
            except InvalidValueError as exc:
                bad.add(key)
                allowed = SETTINGS[key].rule.allowed()
                found += [ConfigProblem(layer.source, key, given, allowed, hint)
                          for given, hint in exc.issues]
            else:
                values[key] = Entry(converted, layer.source, index)
    source = layers[0].source if layers else DEFAULTS_NAME
    found += [ConfigProblem(source, key, None, SETTINGS[key].rule.allowed(),
                            "missing from the defaults; every key needs a shipped default")
              for key in SETTINGS if key not in values and key not in bad]
    found += cross_check({k: e for k, e in values.items() if k not in bad}, extra_checks)
    if found:
        raise ConfigError(found)
    config = _build({k: e.value for k, e in values.items()})
    sources = tuple(dict.fromkeys(layer.source for layer in layers))
    return _with_provenance(config, sources)


def effective_settings(config: Config) -> dict[str, dict[str, object]]:
    """The settings as plain JSON-able data (for the digest, the audit log, diagnostics)."""
    result: dict[str, dict[str, object]] = {}
    for section in SECTIONS:
        part = getattr(config, section)
        result[section] = {f.name: _plain(getattr(part, f.name)) for f in fields(part)}
    return result


# ------------------------------------------------------------------------ reading layers


def _read_file(item: Path | ConfigText, problems: list[ConfigProblem]) -> Layer | None:
    if isinstance(item, ConfigText):
        return parse_layer(item.source, item.data, problems)
    source = str(item)
    try:
        raw = read_regular(item, MAX_CONFIG_BYTES)
    except TooLargeError as exc:
        problems.append(ConfigProblem(source, "", f"{exc.size} bytes",
                                      f"a TOML text file of at most {MAX_CONFIG_BYTES} bytes",
                                      "this is not a bodycam.toml; copy the configuration "
                                      "text file"))
        return None
    except NotRegularFileError as exc:
        problems.append(ConfigProblem(source, "", exc.kind, "a readable TOML file",
                                      "give the configuration file itself"))
        return None
    except OSError as exc:
        hint = ("create it (config/example-device.toml is a documented starting point) "
                "or fix the path" if isinstance(exc, FileNotFoundError)
                else "check the path and the file's permissions")
        problems.append(ConfigProblem(source, "", exc.strerror or str(exc),
                                      "a readable TOML file", hint))
        return None
    return parse_layer(source, raw, problems)


def parse_layer(source: str, raw: bytes, problems: list[ConfigProblem]) -> Layer | None:
    """The TOML in `raw` as a layer, or None after adding why it is not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(ConfigProblem(source, f"line {line}", raw[exc.start: exc.end],
                                      "UTF-8 text", "save the file as UTF-8"))
        return None
    try:
        return Layer(source, tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        problems.append(_syntax_problem(source, text, exc))
    except RecursionError:  # tomllib recurses per nesting level: `a = [[[[...` bombs
        problems.append(ConfigProblem(
            source, "", "brackets or tables nested too deeply to read",
            "a TOML file of [section] headers and key = value lines",
            "this is not a bodycam configuration; copy the configuration text file"))
    return None


def _syntax_problem(source: str, text: str, exc: tomllib.TOMLDecodeError) -> ConfigProblem:
    message = str(exc)
    lines = text.splitlines() or [""]
    match = _TOML_POSITION.search(message)
    number = int(match.group(1)) if match and match.group(1) else len(lines)
    reason = message[: match.start()].strip() if match else message
    given = lines[number - 1].strip() if number <= len(lines) else ""
    return ConfigProblem(source, f"line {number}", given,
                         'TOML syntax: [section] headers and key = value lines, '
                         'text in "double quotes"',
                         f"TOML syntax error: {reason}; fix this line")


def _parse_override(text: str, problems: list[ConfigProblem]) -> Layer | None:
    """`section.key=value`: the value is read as TOML, or taken as text if it is not TOML."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not _OVERRIDE_NAME.fullmatch(name):
        problems.append(ConfigProblem(COMMAND_LINE, name or text, text,
                                      "section.key=value, e.g. video.fps=25"))
        return None
    try:
        parsed = tomllib.loads(f"v = {value}")
    except tomllib.TOMLDecodeError:
        parsed = {}
    data: object = parsed["v"] if set(parsed) == {"v"} else value.strip()
    for part in reversed(name.split(".")):
        data = {part: data}
    assert isinstance(data, dict)
    return Layer(COMMAND_LINE, data)


# ------------------------------------------------------------------------ keys and names


def _flatten(layer: Layer, problems: list[ConfigProblem]) -> list[tuple[str, object]]:
    """(dotted key, value) for the known keys; unknown names become problems."""
    found: list[tuple[str, object]] = []
    for section, table in layer.data.items():
        if section not in SECTIONS:
            problems.append(ConfigProblem(layer.source, section, table,
                                          "one of the sections " + ", ".join(SECTIONS),
                                          _suggest_section(section)))
            continue
        if not isinstance(table, dict):
            problems.append(ConfigProblem(layer.source, section, table,
                                          f"a [{section}] table of settings",
                                          f"write the settings below a [{section}] header"))
            continue
        names = section_keys(section)
        for name, value in table.items():
            key = f"{section}.{name}"
            if key in SETTINGS:
                found.append((key, value))
            else:
                problems.append(ConfigProblem(layer.source, key, value,
                                              f"one of the [{section}] keys " + ", ".join(names),
                                              _suggest_key(section, name)))
    return found


def _suggest(candidates: list[str], word: str) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else ""


def _key_elsewhere(name: str, section: str = "") -> str:
    """The key `name` (or a close spelling) in the section where it belongs."""
    by_name: dict[str, list[str]] = {}
    for key in SETTINGS:
        if not key.startswith(f"{section}."):
            by_name.setdefault(key.partition(".")[2], []).append(key)
    close = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.8)
    if not close:
        return ""
    keys = by_name[close[0]]
    return (f"did you mean {' or '.join(keys)}? "
            "(keys belong below their [section] header)")


def _suggest_section(name: str) -> str:
    """A misspelt section, or a key written outside its section."""
    return (_suggest(list(SECTIONS), name) or _key_elsewhere(name)
            or _REFERENCE_HINT)


def _suggest_key(section: str, name: str) -> str:
    """A misspelt key, else the same name in the section it belongs to."""
    close = difflib.get_close_matches(name, section_keys(section), n=1, cutoff=0.6)
    if close:
        return f"did you mean {section}.{close[0]}?"
    return _key_elsewhere(name, section) or _REFERENCE_HINT


# ------------------------------------------------------------------------ building


def _build(flat: dict[str, object]) -> Config:
    hints = typing.get_type_hints(Config)
    sections = {section: hints[section](**{name: flat[f"{section}.{name}"]
                                           for name in section_keys(section)})
                for section in SECTIONS}
    return Config(**sections)


def _plain(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _with_provenance(config: Config, sources: tuple[str, ...]) -> Config:
    canonical = json.dumps(effective_settings(config), sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return replace(config, sources=sources, digest=digest)

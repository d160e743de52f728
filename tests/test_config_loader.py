"""Layering (defaults < files < overrides), file errors, provenance and digest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bodycam.firmware.config.loader import (
    ConfigError,
    Layer,
    effective_settings,
    load_config,
    resolve,
    shipped_file,
)
from bodycam.firmware.evidence.age.keys import generate_identity


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(*files: Path, overrides: tuple[str, ...] = ()) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(*files, overrides=overrides)
    return caught.value


def test_defaults_alone_are_valid_and_safe() -> None:
    config = load_config()
    assert config.device.id == "UNSET"
    assert config.evidence.recipients == ()
    assert config.privacy.stealth_allowed is False
    assert config.evidence.prerecord_audio is False
    assert config.storage.data_dir.is_absolute()
    assert config.sources == (str(shipped_file("defaults.toml")),)


def test_layers_apply_in_order(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.toml", "[video]\nfps = 25\nwidth = 640\n[device]\nid = 'A'\n")
    second = _write(tmp_path, "b.toml", "[video]\nfps = 20\n")
    config = load_config(first, second, overrides=["device.id=C-3"])
    assert config.video.fps == 20  # second file beats first
    assert config.video.width == 640  # first file beats defaults
    assert config.video.height == 720  # untouched default
    assert config.device.id == "C-3"  # command line beats files
    assert config.sources == (str(shipped_file("defaults.toml")), str(first), str(second),
                              "command line")


def test_later_override_wins() -> None:
    assert load_config(overrides=["video.fps=10", "video.fps=12"]).video.fps == 12


@pytest.mark.parametrize(("override", "section", "name", "expected"), [
    ("video.fps=25", "video", "fps", 25),
    ("device.id=BC-7", "device", "id", "BC-7"),  # not TOML: taken as text
    ('device.unit="Revier 3"', "device", "unit", "Revier 3"),
    ("device.unit=Revier 3", "device", "unit", "Revier 3"),
    ("privacy.stealth_allowed=true", "privacy", "stealth_allowed", True),
    ("evidence.prerecord_seconds=7.5", "evidence", "prerecord_seconds", 7.5),
    ("storage.data_dir=/tmp/bodycam", "storage", "data_dir", Path("/tmp/bodycam")),
    (" power.i2c_address = 0x36 ", "power", "i2c_address", 0x36),
])
def test_override_values_are_parsed_as_toml(override: str, section: str, name: str,
                                            expected: object) -> None:
    config = load_config(overrides=[override])
    assert getattr(getattr(config, section), name) == expected


def test_override_list_value() -> None:
    _, recipient = generate_identity()
    config = load_config(overrides=[f'evidence.recipients=["{recipient}"]'])
    assert config.evidence.recipients == (recipient,)


def test_override_cannot_smuggle_a_second_key() -> None:
    error = _error(overrides=["video.fps=25\nvideo.width=640"])
    (problem,) = error.problems
    assert (problem.source, problem.key) == ("command line", "video.fps")
    assert problem.given == "25\nvideo.width=640"


@pytest.mark.parametrize("override", ["video.fps", "=3", "video..fps=3", "video fps=3"])
def test_malformed_override_is_reported(override: str) -> None:
    (problem,) = _error(overrides=[override]).problems
    assert problem.source == "command line"
    assert problem.given == override
    assert "section.key=value" in problem.allowed


def test_bad_override_value_names_command_line() -> None:
    (problem,) = _error(overrides=["video.fps=thirty"]).problems
    assert str(problem).startswith("command line: video.fps: got 'thirty'; allowed: integer")


def test_bad_value_in_a_lower_layer_is_reported_even_if_overridden(tmp_path: Path) -> None:
    bad = _write(tmp_path, "a.toml", "[video]\nfps = 0\n")
    (problem,) = _error(bad, overrides=["video.fps=25"]).problems
    assert problem.source == str(bad)


def test_problems_from_every_layer_are_collected(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.toml", "[video]\nfps = 0\n")
    second = _write(tmp_path, "b.toml", "[audio]\nchannels = 9\n")
    problems = _error(first, second, overrides=["device.id=a b"]).problems
    assert [(p.source, p.key) for p in problems] == [
        (str(first), "video.fps"), (str(second), "audio.channels"),
        ("command line", "device.id")]


def test_cross_check_blames_the_file_that_set_the_value(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.toml", "[pins]\nled_red = 20\n")
    second = _write(tmp_path, "b.toml", "[pins]\nbuzzer = 20\n")
    (problem,) = _error(first, second).problems
    assert (problem.source, problem.key) == (str(second), "pins.buzzer")
    assert f"pins.led_red = 20 (from {first})" in problem.hint


def test_one_invalid_key_does_not_cascade_into_cross_check_noise(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.toml", '[display]\ndriver = "nope"\nwidth = 96\nheight = 64\n')
    assert [p.key for p in _error(path).problems] == ["display.driver"]


def test_missing_file_names_file_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    (problem,) = _error(missing).problems
    assert problem.source == str(missing)
    assert "example-device.toml" in problem.hint
    assert str(problem).startswith(f"{missing}: got 'No such file or directory'")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    (problem,) = _error(tmp_path).problems
    assert problem.source == str(tmp_path)
    assert "readable TOML file" in problem.allowed


def test_syntax_error_names_file_line_and_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.toml", "[video]\nfps = 25\nwidth = = 3\n")
    (problem,) = _error(path).problems
    assert (problem.source, problem.key, problem.given) == (str(path), "line 3", "width = = 3")
    assert "TOML syntax error" in problem.hint


def test_syntax_error_at_end_of_document(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.toml", "[video]\nfps = [1, 2\n")
    (problem,) = _error(path).problems
    assert problem.key.startswith("line ")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_bytes(b'[device]\nunit = "M\xfcnchen"\n')
    (problem,) = _error(path).problems
    assert (problem.key, problem.allowed) == ("line 2", "UTF-8 text")


def test_all_file_problems_and_value_problems_together(tmp_path: Path) -> None:
    good_syntax = _write(tmp_path, "a.toml", "[video]\nfps = 0\n")
    problems = _error(tmp_path / "missing.toml", good_syntax).problems
    assert [p.key for p in problems] == ["", "video.fps"]


def test_defaults_must_cover_every_key() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve([Layer("partial-defaults.toml", {"device": {"id": "X", "unit": ""}})])
    keys = {p.key for p in caught.value.problems}
    assert "video.fps" in keys
    assert "device.id" not in keys
    assert all(p.source == "partial-defaults.toml" for p in caught.value.problems)


def test_digest_is_sha256_of_canonical_settings() -> None:
    config = load_config()
    canonical = json.dumps(effective_settings(config), sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    assert config.digest == hashlib.sha256(canonical.encode()).hexdigest()


def test_digest_depends_on_values_not_on_layering(tmp_path: Path) -> None:
    same = _write(tmp_path, "a.toml", "[video]\nfps = 30\n")
    assert load_config(same).digest == load_config().digest
    assert load_config(overrides=["video.fps=29"]).digest != load_config().digest


def test_effective_settings_are_plain_data() -> None:
    settings = effective_settings(load_config())
    assert settings["storage"]["data_dir"] == "/var/lib/bodycam/data"
    assert settings["evidence"]["recipients"] == []
    json.dumps(settings)


def test_shipped_file_unknown_name_lists_what_exists() -> None:
    with pytest.raises(FileNotFoundError, match=r"sim\.toml"):
        shipped_file("nope.toml")
